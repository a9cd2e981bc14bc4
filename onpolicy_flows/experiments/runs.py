"""Reading run directories: config.json and progress.csv of one training run.

A run directory is any directory holding both files (what `run.trpo` writes, and ACKTR's
runs likewise); progress.csv may be compressed (progress.csv.xz or .gz, as in harvested
results). The algorithm is read from config.json: an explicit "algorithm" key if one is ever
written, else "acktr" when the config has ACKTR's "desired_kl" setting, else "trpo".
The config, not the directory name, decides, so renamed or copied directories group correctly.
"""
import csv
import glob
import json
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

import numpy as np

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.envs.factory import RETIRED_IDS
from onpolicy_flows.experiments.compressed import open_text, stored_path
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.runs.run_dir import CONFIG_FILE

PROGRESS_FILE = "progress.csv"
RETURN_KEY = "EpRewMean"
TIMESTEP_KEY = "TimestepsSoFar"
ELAPSED_KEY = "TimeElapsed"
STEP_ACCEPTED_KEY = "step_accepted"  # TRPO: 0 in an iteration whose policy step was skipped
# The state file that tf.train.CheckpointManager keeps in runs.checkpoints' subfolder; it
# exists once a checkpoint has been completely written (read here without importing TF).
CHECKPOINT_STATE = os.path.join("checkpoints", "checkpoint")


@dataclass(frozen=True)
class Run:
    """One training run: its settings and its learning curve.

    timesteps: [iterations] env steps so far (summed over ranks) at each logged iteration;
    returns: [iterations] EpRewMean there. Iterations before the first finished episode
    (EpRewMean empty or NaN) are dropped.
    """
    path: str
    config: dict
    timesteps: np.ndarray
    returns: np.ndarray

    @property
    def algorithm(self) -> str:
        return algorithm_of(self.config)

    @property
    def env(self) -> str:
        """The gymnasium id that ran (the paper's retired ids map to their successors)."""
        return RETIRED_IDS.get(self.config["env"], self.config["env"])

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def policy(self) -> str:
        return policy_label(self.config["policy"])


def algorithm_of(config: dict) -> str:
    """"trpo" or "acktr" (see the module docstring for the rule)."""
    if "algorithm" in config:
        return config["algorithm"]
    return "acktr" if "desired_kl" in config else "trpo"


def policy_label(policy_config: dict) -> str:
    """The policy class as the paper's legends name it: gaussian, gmm-K2, gmm-K5, flow; a
    flow of other sizes adds them: flow-K2 (--num-layers 2), flow-l5 (--num-units 5)."""
    if policy_config["policy"] == "gmm":
        return f"gmm-K{policy_config['num_components']}"
    if policy_config["policy"] == "flow":
        defaults = PolicyConfig()
        layers = policy_config.get("num_layers", defaults.num_layers)
        units = policy_config.get("num_units", defaults.num_units)
        return ("flow" + (f"-K{layers}" if layers != defaults.num_layers else "")
                + (f"-l{units}" if units != defaults.num_units else ""))
    return policy_config["policy"]


def is_run_dir(path: str) -> bool:
    return (os.path.isfile(os.path.join(path, CONFIG_FILE)) and
            stored_path(os.path.join(path, PROGRESS_FILE)) is not None)


def run_dirs_in(parent: str) -> List[str]:
    """The direct subdirectories of `parent` holding a config.json (run directories, started
    or not yet logging), sorted; [] if `parent` does not exist."""
    if not os.path.isdir(parent):
        return []
    children = (os.path.join(parent, name) for name in sorted(os.listdir(parent)))
    return [child for child in children if os.path.isfile(os.path.join(child, CONFIG_FILE))]


def has_checkpoint(path: str) -> bool:
    """True when run directory `path` holds a completely written checkpoint to resume from."""
    return os.path.isfile(os.path.join(path, CHECKPOINT_STATE))


def find_run_dirs(paths: Iterable[str]) -> List[str]:
    """Run directories named by `paths`: each a run directory, a glob pattern, or a parent
    directory searched recursively. Sorted, without duplicates; UserError if a path matches
    nothing."""
    found = set()
    for pattern in paths:
        matches = glob.glob(pattern) or ([pattern] if os.path.exists(pattern) else [])
        if not matches:
            raise UserError(f"no such file or directory: {pattern!r}")
        for match in matches:
            found.update(_run_dirs_under(match))
    return sorted(found)


def _run_dirs_under(path: str) -> List[str]:
    return [root for root, _, _ in os.walk(path, followlinks=True) if is_run_dir(root)]


def read_progress(path: str) -> Dict[str, np.ndarray]:
    """progress.csv (or its .xz, .gz) of run directory `path` as column name -> float array
    [rows]; empty cells are NaN; {} if the run has not logged yet."""
    if stored_path(os.path.join(path, PROGRESS_FILE)) is None:
        return {}
    with open_text(os.path.join(path, PROGRESS_FILE)) as file:
        return progress_columns(file)


def progress_columns(lines: Iterable[str]) -> Dict[str, np.ndarray]:
    """A progress.csv's lines as column name -> float array [rows]; empty cells are NaN."""
    rows = list(csv.DictReader(lines))
    keys = rows[0].keys() if rows else []
    return {key: np.array([_to_float(row.get(key)) for row in rows]) for key in keys}


def read_config(path: str) -> dict:
    with open(os.path.join(path, CONFIG_FILE)) as file:
        return json.load(file)


def load_run(path: str) -> Run:
    """Reads run directory `path`; UserError if its progress.csv lacks the needed columns."""
    progress = read_progress(path)
    missing = {TIMESTEP_KEY, RETURN_KEY} - set(progress)
    if missing and progress:
        raise UserError(f"{path}: progress.csv has no column {', '.join(sorted(missing))}")
    timesteps = progress.get(TIMESTEP_KEY, np.zeros(0))
    returns = progress.get(RETURN_KEY, np.zeros(0))
    logged = np.isfinite(timesteps) & np.isfinite(returns)
    return Run(path, read_config(path), timesteps[logged], returns[logged])


def timesteps_done(path: str) -> float:
    """The last TimestepsSoFar logged in run directory `path` (0 if none)."""
    return last_logged(read_progress(path), TIMESTEP_KEY)


def last_logged(progress: Dict[str, np.ndarray], key: str) -> float:
    """The last finite value of column `key` of a read progress.csv (0 if none)."""
    values = progress.get(key, np.zeros(0))
    values = values[np.isfinite(values)]
    return float(values[-1]) if len(values) else 0.0


def skipped_step_fraction(progress: Dict[str, np.ndarray],
                          batches_collected: Optional[float] = None) -> Optional[float]:
    """The fraction of a TRPO run's batches that brought no policy step: its logged
    iterations with `step_accepted` 0 and, where `batches_collected` is given, the batches
    it dropped without a log row (`--non-positive-fisher drop-batch`: the collected batches
    less the rows). None for a run that does not log `step_accepted`."""
    accepted = progress.get(STEP_ACCEPTED_KEY, np.zeros(0))
    accepted = accepted[np.isfinite(accepted)]
    if not len(accepted):
        return None
    batches = max(float(len(accepted)), batches_collected or 0.0)
    return 1.0 - float(np.sum(accepted != 0)) / batches


def is_finished(path: str) -> bool:
    """True when the run logged as many env steps as its config's num_timesteps."""
    return is_run_dir(path) and timesteps_done(path) >= read_config(path)["num_timesteps"]


def _to_float(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")
