"""The original code's own runs (grids with `original_code`) set beside the port's runs of the
same algorithm, task and policy: with `--original` (the grids `claims.is_original` finds) and
with the port's defaults (the figures' grids). P(port > original) with its interval and
permutation p-values; the port is "consistent" with the original unless the verdict rule
(`verdicts.outcome`) finds it higher or lower: when the interval contains 0.5, or the
permutation test's p exceeds its ALPHA.
"""
import functools
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from onpolicy_flows.envs.factory import make_env, space_dims
from onpolicy_flows.experiments.grids.grid import Grid
from onpolicy_flows.experiments.grids.harvest import member_result_dir
from onpolicy_flows.experiments.results.claims import is_original, score_matrix
from onpolicy_flows.experiments.results.harvested import GridResults, MemberResult
from onpolicy_flows.experiments.results.verdicts import (
    MIN_RUNS,
    ORDERING,
    Evidence,
    Outcome,
    judge,
)
from onpolicy_flows.experiments.runs import read_progress
from onpolicy_flows.policies.flow import normal_constant

CONSISTENT, PORT_HIGHER, PORT_LOWER = "consistent", "port higher", "port lower"
ENTROPY_KEY = "entropy"


@dataclass(frozen=True)
class ParityCheck:
    """The port's runs of `port_grid` against the original code's runs of `original_grid`
    on one task and policy."""
    algorithm: str
    env: str
    policy: str
    port_grid: str
    original_grid: str
    runs: tuple  # (port, original)
    means: tuple  # mean final return (port, original)
    evidence: Optional[Evidence]
    outcome: Outcome  # of "port > original"

    @property
    def reading(self) -> str:
        if self.evidence is None or min(self.runs) < MIN_RUNS:
            return f"fewer than {MIN_RUNS} runs a side"
        return {Outcome.REPRODUCED: PORT_HIGHER,
                Outcome.NOT_REPRODUCED: PORT_LOWER}.get(self.outcome, CONSISTENT)


def port_grids(original_grid: Grid, grid_results: GridResults) -> List[Grid]:
    """The port's grids to set beside an original-code grid: those of its algorithm and
    budget with `--original`, then those with the port's defaults (no variant, no max_kl
    draws)."""
    same = [grid for grid, _ in grid_results.values()
            if grid.algorithm == original_grid.algorithm and not grid.frozen
            and not grid.max_kl_draws and grid.num_timesteps == original_grid.num_timesteps]
    with_original = sorted((grid for grid in same if is_original(grid)), key=lambda g: g.name)
    defaults = sorted((grid for grid in same if not grid.compare_with and not is_original(grid)),
                      key=lambda g: g.name)
    return with_original + defaults


def parity_checks(grid_results: GridResults) -> List[ParityCheck]:
    """For every task and policy with a run of the original code: one check per port grid
    that declares the same task and policy."""
    checks = []
    for original_grid, original_results in sorted(grid_results.values(),
                                                  key=lambda item: item[0].name):
        if not original_grid.original_code:
            continue
        for env in original_grid.envs:
            for policy in original_grid.policies:
                original = score_matrix(original_results, [env], policy)
                if not len(original):
                    continue
                for grid in port_grids(original_grid, grid_results):
                    if env not in grid.envs or policy not in grid.policies:
                        continue
                    port = score_matrix(grid_results[grid.name][1], [env], policy)
                    outcome, evidence = judge(ORDERING, port, original)
                    checks.append(ParityCheck(
                        original_grid.algorithm, env, policy, grid.name, original_grid.name,
                        (len(port), len(original)),
                        (float(port.mean()) if len(port) else float("nan"),
                         float(original.mean())), evidence, outcome))
    return checks


@dataclass(frozen=True)
class LoggedSeries:
    """A logged key per iteration of one grid's runs of a task and policy: `values`
    [runs, iterations] (runs cut to the shortest), on the original's scale."""
    grid: str
    env: str
    policy: str
    values: np.ndarray


def entropy_series(grid_results: GridResults, results_root: str) -> List[LoggedSeries]:
    """The logged `entropy` per iteration of every original-code grid that logs it, beside
    that of the port's grids set beside it (`port_grids`), per task and policy where both
    have runs. The port's flow entropy is shifted down by (d/2) log 2 pi, d the action
    dimension, to the original's scale (its flow's log-density drops that constant)."""
    series = []
    for original_grid, _ in sorted(grid_results.values(), key=lambda item: item[0].name):
        if not original_grid.original_code:
            continue
        grids = [original_grid, *port_grids(original_grid, grid_results)]
        for env in original_grid.envs:
            for policy in original_grid.policies:
                found = [_entropy_series(results_root, grid, grid_results[grid.name][1], env,
                                         policy)
                         for grid in grids if env in grid.envs and policy in grid.policies]
                found = [item for item in found if item is not None]
                if len(found) > 1 and found[0].grid == original_grid.name:
                    series += found
    return series


def _entropy_series(results_root: str, grid: Grid, results: List[MemberResult], env: str,
                    policy: str) -> Optional[LoggedSeries]:
    runs = [logged(results_root, grid, result, ENTROPY_KEY) for result in results
            if (result.member.env, result.member.policy) == (env, policy)]
    runs = [values[np.isfinite(values)] for values in runs]
    runs = [values for values in runs if len(values)]
    if not runs:
        return None
    length = min(len(values) for values in runs)
    shift = normal_constant(action_dim(env)) if policy.startswith("flow") \
        and not grid.original_code else 0.0
    return LoggedSeries(grid.name, env, policy,
                        np.stack([values[:length] for values in runs]) - shift)


@functools.lru_cache(maxsize=None)
def action_dim(env_id: str) -> int:
    """The action dimension of `env_id` (the env is made once per id)."""
    env = make_env(env_id, seed=0)
    try:
        return space_dims(env)[1]
    finally:
        env.close()


def logged(results_root: str, grid: Grid, result: MemberResult, key: str) -> np.ndarray:
    """Column `key` [rows] of a harvested run's progress.csv (empty if it has none; a member
    the grid reuses is read from the grid that trains it)."""
    path = member_result_dir(results_root, grid.name, result.member)
    return read_progress(path).get(key, np.zeros(0))
