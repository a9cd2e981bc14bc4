"""How long a grid member's training will take: the median wall-clock per env step of the
finished runs kept under results/ (the port's own; the original code's runs time other code)
of the same algorithm, task and policy label, else of the same policy class (a flow of another
size at the other flows' rate), else a default per algorithm."""
import os
from statistics import median
from typing import Dict, Hashable, Iterable, Tuple, TypeVar

from onpolicy_flows.experiments.grids.grid import GridMember
from onpolicy_flows.experiments.runs import (
    ELAPSED_KEY,
    TIMESTEP_KEY,
    algorithm_of,
    find_run_dirs,
    last_logged,
    policy_label,
    read_config,
    read_progress,
)

DEFAULT_SECONDS_PER_MILLION_STEPS = {"trpo": 2000.0, "acktr": 1500.0, "ppo": 1500.0}
ESTIMATE_SOURCE = ("from the wall-clock of finished runs of the same algorithm, task and policy "
                   "in results/, else of the same policy class, else a default per algorithm")
RateKey = Tuple[str, str, str]  # (algorithm, env, policy label)
Key = TypeVar("Key", bound=Hashable)


def median_rates(samples: Iterable[Tuple[Key, float, float]]) -> Dict[Key, Tuple[float, int]]:
    """(key, wall-clock seconds, env steps) per finished run -> key -> (median seconds per env
    step, runs behind it); runs without a positive time or step count are left out."""
    rates = {}
    for key, seconds, steps in samples:
        if steps > 0 and seconds > 0:
            rates.setdefault(key, []).append(seconds / steps)
    return {key: (median(values), len(values)) for key, values in rates.items()}


def measured_rates(results_root: str) -> Tuple[Dict[RateKey, float], Dict[RateKey, float]]:
    """Median wall-clock seconds per env step of the harvested runs under `results_root`, per
    (algorithm, env, policy label): (the port's, the original code's), in one pass."""
    samples = {False: [], True: []}  # by whether the original code made the run
    for run_dir in find_run_dirs([results_root]) if os.path.isdir(results_root) else []:
        config, progress = read_config(run_dir), read_progress(run_dir)
        key = (algorithm_of(config), config["env"], policy_label(config["policy"]))
        samples[config.get("code") == "original"].append(
            (key, last_logged(progress, ELAPSED_KEY), last_logged(progress, TIMESTEP_KEY)))
    port, original = ({key: rate for key, (rate, _) in median_rates(samples[code]).items()}
                      for code in (False, True))
    return port, original


def seconds_per_step(results_root: str) -> Dict[RateKey, float]:
    """The port's rates of `measured_rates` (the original code's runs time other code)."""
    return measured_rates(results_root)[0]


def original_code_rates(port: Dict[RateKey, float], original: Dict[RateKey, float]
                        ) -> Dict[RateKey, float]:
    """Seconds per env step for the original code's runs, from `measured_rates`: its own
    finished runs' rate where there are some; elsewhere the port's rate times the original's
    slowdown on that algorithm, the median ratio of the original's rate to the port's over
    the keys of that algorithm both have (over every algorithm's where it has none; 1 where
    none has both)."""
    ratios = {}
    for key, rate in original.items():
        if key in port:
            ratios.setdefault(key[0], []).append(rate / port[key])
    pooled = [ratio for values in ratios.values() for ratio in values]
    slowdown = {algorithm: median(values) for algorithm, values in ratios.items()}
    fallback = median(pooled) if pooled else 1.0
    return {**{key: rate * slowdown.get(key[0], fallback) for key, rate in port.items()},
            **original}


def policy_class(label: str) -> str:
    """'flow-K2' -> 'flow', 'gmm-K5' -> 'gmm', 'gaussian' -> 'gaussian'."""
    return label.split("-")[0]


def estimated_seconds(member: GridMember, steps_left: float,
                      rates: Dict[RateKey, float]) -> float:
    """Wall-clock seconds `member` needs for `steps_left` more env steps (ESTIMATE_SOURCE)."""
    rate = rates.get((member.algorithm, member.env, member.policy))
    if rate is None:
        same_class = [value for (algorithm, env, label), value in rates.items()
                      if (algorithm, env) == (member.algorithm, member.env)
                      and policy_class(label) == policy_class(member.policy)]
        rate = median(same_class) if same_class else \
            DEFAULT_SECONDS_PER_MILLION_STEPS.get(member.algorithm, 2000.0) / 1e6
    return steps_left * rate
