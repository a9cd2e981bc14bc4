"""Learning curves over seeds: group runs, align them on a common timestep grid, and
summarise them as mean +- std curves and a table of final returns.

Alignment: each run's EpRewMean is linearly interpolated (np.interp) at the grid points. The
grid spans the timesteps that EVERY run of the group covers, from the latest first logged
iteration to the earliest last one, so each point averages the same seeds.
"""
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, Hashable, List, Optional, Sequence

import numpy as np

from onpolicy_flows.experiments.runs import Run

GRID_POINTS = 100


@dataclass(frozen=True)
class GroupKey:
    """What the paper's figures group seeds by."""
    algorithm: str
    env: str
    policy: str


@dataclass(frozen=True)
class Curve:
    """mean and std [points] of EpRewMean over the group's runs at timesteps [points]."""
    key: Hashable
    runs: Sequence[Run]
    timesteps: np.ndarray
    mean: np.ndarray
    std: np.ndarray


@dataclass(frozen=True)
class FinalReturn:
    """Mean and std of EpRewMean at `timesteps` over the `num_runs` runs that reached it."""
    key: Hashable
    timesteps: float
    mean: float
    std: float
    num_runs: int


def run_group_key(run: Run) -> GroupKey:
    return GroupKey(run.algorithm, run.env, run.policy)


def group_runs(runs: Sequence[Run], key: Callable[[Run], Hashable] = run_group_key
               ) -> Dict[Hashable, List[Run]]:
    """Runs by key, keys sorted; runs without a logged episode are left out."""
    groups = defaultdict(list)
    for run in runs:
        if len(run.timesteps):
            groups[key(run)].append(run)
    return dict(sorted(groups.items(), key=lambda item: str(item[0])))


def common_grid(runs: Sequence[Run], num_points: int = GRID_POINTS) -> np.ndarray:
    """[num_points] timesteps covered by every run (a single point if they share only one)."""
    start = max(run.timesteps[0] for run in runs)
    stop = min(run.timesteps[-1] for run in runs)
    if stop <= start:
        return np.array([stop], dtype=float)
    return np.linspace(start, stop, num_points)


def aligned_returns(runs: Sequence[Run], grid: np.ndarray) -> np.ndarray:
    """[runs, points] EpRewMean of each run interpolated at `grid` (NaN outside its range)."""
    return np.stack([np.interp(grid, run.timesteps, run.returns, left=np.nan, right=np.nan)
                     for run in runs])


def mean_curve(key: Hashable, runs: Sequence[Run], num_points: int = GRID_POINTS) -> Curve:
    grid = common_grid(runs, num_points)
    returns = aligned_returns(runs, grid)
    return Curve(key, runs, grid, returns.mean(axis=0), returns.std(axis=0))


def mean_curves(groups: Dict[Hashable, List[Run]], num_points: int = GRID_POINTS
                ) -> List[Curve]:
    return [mean_curve(key, runs, num_points) for key, runs in groups.items()]


def final_return(key: Hashable, runs: Sequence[Run], budget: Optional[float] = None
                 ) -> FinalReturn:
    """EpRewMean at `budget` env steps over the runs that reached it; budget None means the
    end of the group's common grid. num_runs 0 (mean NaN) if none reached it."""
    timesteps = common_grid(runs)[-1] if budget is None else float(budget)
    values = aligned_returns(runs, np.array([timesteps]))[:, 0]
    values = values[np.isfinite(values)]
    if not len(values):
        return FinalReturn(key, timesteps, float("nan"), float("nan"), 0)
    return FinalReturn(key, timesteps, float(values.mean()), float(values.std()), len(values))
