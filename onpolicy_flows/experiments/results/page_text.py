"""How the results page writes numbers, estimates and evidence, and in which order it lists
the grids."""
from typing import List, Optional, Tuple

import numpy as np

from onpolicy_flows.experiments.grids.grid import Grid
from onpolicy_flows.experiments.results.harvested import GridResults, MemberResult
from onpolicy_flows.experiments.results.statistics import Estimate
from onpolicy_flows.experiments.results.verdicts import Evidence


def number(value: float) -> str:
    """A return for a table: one decimal below 100 in magnitude, none above; '-' for NaN."""
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def counted(count: int, noun: str) -> str:
    """'1 run', '3 runs': `count` and the noun, with an s where the count is not one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def estimate_text(estimate: Optional[Estimate], digits: Optional[int] = None) -> str:
    if estimate is None:
        return "-"
    show = (lambda x: f"{x:.{digits}f}") if digits is not None else number
    return f"{show(estimate.value)} [{show(estimate.low)}, {show(estimate.high)}]"


def evidence_text(evidence: Optional[Evidence]) -> str:
    """'0.74 [0.67, 0.83], p = 0.003': P(A > B) with its interval, and the permutation test's
    one-sided p-value in the direction P points to."""
    if evidence is None:
        return "-"
    p = evidence.p_value
    return (f"{estimate_text(evidence.probability, 2)}, "
            f"p {'< 0.001' if p < 0.001 else f'= {p:.3f}'}")


def steps_text(timesteps) -> str:
    return f"{timesteps:.0e}".replace("e+0", "e") if timesteps else "-"


def grid_kind(grid: Grid) -> int:
    """Sort key: grids with the original's defaults, then max_kl draws, then variants."""
    return 2 if grid.compare_with else 1 if grid.max_kl_draws else 0


def ordered(grid_results: GridResults) -> List[Tuple[Grid, List[MemberResult]]]:
    return sorted(grid_results.values(), key=lambda item: (grid_kind(item[0]), item[0].name))
