"""The harvested results of a grid (results/<grid>/<member>/), read into what the results page
shows: each member's learning curve, final return and final episode length on the one
metric of `episodes`, its wall-clock, the share of its TRPO iterations that took no policy
step and the commit that ran it."""
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from onpolicy_flows.experiments import episodes
from onpolicy_flows.experiments.grids.grid import Grid, GridMember
from onpolicy_flows.experiments.grids.harvest import is_harvested, member_result_dir
from onpolicy_flows.experiments.runs import (
    ELAPSED_KEY,
    last_logged,
    read_config,
    read_progress,
    skipped_step_fraction,
)


@dataclass(frozen=True)
class MemberResult:
    """One harvested member: `curve` [episodes.NUM_BINS] binned episode returns over its step
    budget, `final` the mean return of its last 5% of steps, `wall_clock` seconds of
    training, `git_commit` of the code that ran it (as its config.json records),
    `skipped_steps` the fraction of iterations that took no policy step (None where the
    algorithm does not log it: ACKTR, PPO), `final_length` the mean length (env steps) of
    the episodes behind `final`, `env_steps` the run's env steps when its last episode ended
    (more than the budget where it counted its steps the original's way)."""
    member: GridMember
    curve: np.ndarray
    final: float
    wall_clock: float
    git_commit: Optional[str]
    skipped_steps: Optional[float] = None
    final_length: float = float("nan")
    env_steps: float = float("nan")


GridResults = Dict[str, Tuple[Grid, List[MemberResult]]]  # grid name -> (grid, its results)


def load_member_result(path: str, member: GridMember) -> MemberResult:
    run = episodes.load_episodes(path)
    budget = member.num_timesteps
    progress, config = read_progress(path), read_config(path)
    env_steps = float(run.ends.max()) if len(run.ends) else float("nan")
    skipped = skipped_step_fraction(progress, batches_collected(path, config, env_steps))
    return MemberResult(member, episodes.binned_returns(run, budget),
                        episodes.final_return(run, budget), last_logged(progress, ELAPSED_KEY),
                        config.get("git_commit"), skipped, episodes.final_length(run, budget),
                        env_steps)


def batches_collected(path: str, config: dict, env_steps: float) -> Optional[float]:
    """The batches a TRPO run that drops some without a log row (`--non-positive-fisher
    drop-batch`) collected, from its env steps up to its last finished episode (so within
    one episode of the true count): each of its monitor streams takes
    timesteps_per_batch / envs_per_rank steps a batch. None for other runs."""
    if config.get("non_positive_fisher") != "drop-batch" or not np.isfinite(env_steps):
        return None
    streams = len(episodes.monitor_paths(path))
    steps_per_stream = config["timesteps_per_batch"] / config.get("envs_per_rank", 1)
    return env_steps / streams / steps_per_stream


def load_grid_results(results_root: str, grid: Grid) -> List[MemberResult]:
    """The members of `grid` (optional seeds included) whose harvested run reached the
    budget, in the grid's order; a member the grid reuses is read from the grid that
    trains it."""
    results = []
    for member in grid.all_members():
        path = member_result_dir(results_root, grid.name, member)
        if is_harvested(path, member.num_timesteps):
            results.append(load_member_result(path, member))
    return results


def group_results(results: Sequence[MemberResult],
                  key: Callable[[MemberResult], Hashable]) -> Dict[Hashable, List[MemberResult]]:
    """Results by key, keys in order of first appearance."""
    groups = defaultdict(list)
    for result in results:
        groups[key(result)].append(result)
    return dict(groups)


def by_task_and_policy(result: MemberResult):
    return result.member.env, result.member.policy


def finals(results: Sequence[MemberResult]) -> np.ndarray:
    """[runs] the final returns that are defined (a run with no episode in its last 5% of
    steps has none)."""
    values = np.array([result.final for result in results], dtype=float)
    return values[np.isfinite(values)]


def finals_by_task_and_policy(grid: Grid, results: Sequence[MemberResult]
                              ) -> Dict[str, Dict[str, np.ndarray]]:
    """env -> policy -> [runs] defined final returns, for every task and policy of `grid`."""
    groups = group_results(results, by_task_and_policy)
    return {env: {policy: finals(groups.get((env, policy), [])) for policy in grid.policies}
            for env in grid.envs}
