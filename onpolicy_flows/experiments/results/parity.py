"""The original code's own runs (grids with `original_code`) set beside the port's runs of the
same algorithm, task and policy: with `--original` (the grids `claims.is_original` finds) and
with the port's defaults (the figures' grids). P(port > original) with its interval and
permutation p-values; the port is "consistent" with the original unless the verdict rule
(`verdicts.outcome`) finds it higher or lower: when the interval contains 0.5, or the
permutation test's p exceeds its ALPHA.
"""
from dataclasses import dataclass
from typing import List, Optional

from onpolicy_flows.experiments.grids.grid import Grid
from onpolicy_flows.experiments.results.claims import GridResults, is_original, score_matrix
from onpolicy_flows.experiments.results.verdicts import (
    MIN_RUNS,
    ORDERING,
    Evidence,
    Outcome,
    judge,
)

CONSISTENT, PORT_HIGHER, PORT_LOWER = "consistent", "port higher", "port lower"


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
    """The port's grids to set beside an original-code grid: those of its algorithm with
    `--original`, then those with the port's defaults (no variant, no max_kl draws)."""
    same = [grid for grid, _ in grid_results.values()
            if grid.algorithm == original_grid.algorithm and not grid.frozen
            and not grid.max_kl_draws]
    with_original = sorted((grid for grid in same if is_original(grid)), key=lambda g: g.name)
    defaults = sorted((grid for grid in same if not grid.compare_with), key=lambda g: g.name)
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
