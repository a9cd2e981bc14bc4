"""What the experiment tests share: run directories written by hand (config.json,
progress.csv, monitor CSVs and optionally a checkpoint, with no training) and a cheaper
bootstrap."""
import json
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pytest

from onpolicy_flows.experiments.results import statistics


def write_fake_run(run_dir: str, config: dict, timesteps: Sequence[float] = (),
                   episodes: Sequence[List[Tuple[float, int]]] = (),
                   seconds_per_step: float = 1e-3, checkpoint: bool = False,
                   step_accepted: Sequence[int] = ()) -> str:
    """A run directory: `config`; one progress.csv row per entry of `timesteps`
    (TimestepsSoFar, EpRewMean 0, TimeElapsed = steps x seconds_per_step, and step_accepted
    from `step_accepted` if given, one per row); one monitor file
    per stream of `episodes` [(return, length), ...]; checkpoints/ with tb/ beside it when
    `checkpoint`."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "config.json"), "w") as file:
        json.dump(config, file)
    with open(os.path.join(run_dir, "progress.csv"), "w") as file:
        file.write("EpRewMean,TimestepsSoFar,TimeElapsed"
                   + (",step_accepted\n" if step_accepted else "\n"))
        for row, steps in enumerate(timesteps):
            accepted = f",{step_accepted[row]}" if step_accepted else ""
            file.write(f"0.0,{steps},{steps * seconds_per_step}{accepted}\n")
    for stream, stream_episodes in enumerate(episodes):
        with open(os.path.join(run_dir, f"monitor.{stream}.csv"), "w") as file:
            file.write('#{"t_start": 0.0, "env_id": "Hopper-v4"}\nr,l,t\n')
            for episode_return, length in stream_episodes:
                file.write(f"{episode_return},{length},0.5\n")
    if checkpoint:
        os.makedirs(os.path.join(run_dir, "checkpoints"))
        os.makedirs(os.path.join(run_dir, "tb"))
        for name in ("checkpoints/checkpoint", "checkpoints/ckpt-1.index", "tb/events"):
            with open(os.path.join(run_dir, name), "w") as file:
                file.write("x")
    return run_dir


def member_config(flags: Dict[str, object], algorithm: str = "trpo") -> dict:
    """The config.json a trainer would write for a grid member's flags."""
    policy = dict(policy=flags["policy"], num_components=flags.get("num_components", 2))
    return dict(algorithm=algorithm, env=flags["env"], seed=flags["seed"],
                num_timesteps=flags["num_timesteps"], policy=policy,
                git_commit="abc123", package_version="0.1.0")


@pytest.fixture
def fast_bootstrap(monkeypatch):
    """Fewer bootstrap resamples: the tests check logic, not the intervals' precision."""
    monkeypatch.setattr(statistics, "BOOTSTRAP_REPS", 100)


def write_fake_result(results_root: str, grid: str, member, final_return: float,
                      num_episodes: int = 100) -> str:
    """A harvested result of `member` in results_root/grid/NAME: `num_episodes` equal
    episodes over its budget whose returns rise linearly to `final_return`."""
    length = member.num_timesteps // num_episodes
    returns = np.linspace(0.0, final_return, num_episodes)
    return write_fake_run(os.path.join(results_root, grid, member.name),
                          member_config(member.flags, member.algorithm),
                          [member.num_timesteps], [[(r, length) for r in returns]])
