"""The results page's tables of how random each TRPO policy ends: the logged entropy over the
last iterations of fig3_trpo's runs and fixed_std's std-1 Gaussian, beside their final
returns, and how often the more random of two policies ends lower; and the same for the flow
sizes of Figure 7, with the rank correlation of entropy and return over the sizes."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from onpolicy_flows.experiments.episodes import FINAL_FRACTION
from onpolicy_flows.experiments.grids.grid import Grid
from onpolicy_flows.experiments.results.harvested import GridResults, MemberResult
from onpolicy_flows.experiments.results.page_claims import FIXED_STD_GRID
from onpolicy_flows.experiments.results.page_text import number
from onpolicy_flows.experiments.results.parity import logged
from onpolicy_flows.policies.config import PolicyConfig

DEFAULTS_GRID = "fig3_trpo"
FLOW_SIZES_GRID = "fig7_flow_ablation"
STD_1 = "gaussian, std 1"  # fixed_std's Gaussian, as its column is labelled
Column = Tuple[str, str]  # (grid name, policy label)


def final_entropy(results_root: str, grid: Grid, result: MemberResult) -> float:
    """A run's logged `entropy` (nats) averaged over its last FINAL_FRACTION of iterations
    (at least one); NaN when it logs none."""
    values = logged(results_root, grid, result, "entropy")
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan")
    return float(values[-max(1, int(round(len(values) * FINAL_FRACTION))):].mean())


def entropy_and_return(results_root: str, grid_results: GridResults, columns: Sequence[Column],
                       env: str) -> Dict[Column, Tuple[float, float]]:
    """(grid, policy) -> (mean final entropy, mean final return) over the column's runs on
    `env` that log an entropy and have a final return; columns without one are left out."""
    cells = {}
    for grid_name, policy in columns:
        grid, results = grid_results[grid_name]
        pairs = [(final_entropy(results_root, grid, result), result.final) for result in results
                 if (result.member.env, result.member.policy) == (env, policy)]
        pairs = np.array([pair for pair in pairs if np.isfinite(pair).all()]).reshape(-1, 2)
        if len(pairs):
            cells[(grid_name, policy)] = tuple(float(value) for value in pairs.mean(axis=0))
    return cells


def more_random_ends_lower(table: Dict[str, Dict[Column, Tuple[float, float]]], a: Column,
                           b: Column) -> Tuple[int, int, int]:
    """(tasks with both, tasks where `a` ends with more entropy than `b`, those of them where
    `a`'s final return is also lower)."""
    both = [cells for cells in table.values() if a in cells and b in cells]
    more = [cells for cells in both if cells[a][0] > cells[b][0]]
    return len(both), len(more), sum(cells[a][1] < cells[b][1] for cells in more)


def final_entropy_section(grid_results: GridResults, results_root: str) -> Optional[str]:
    """The section, or None before fig3_trpo has runs that log their entropy."""
    if DEFAULTS_GRID not in grid_results:
        return None
    defaults = grid_results[DEFAULTS_GRID][0]
    columns = [(DEFAULTS_GRID, policy) for policy in defaults.policies]
    if FIXED_STD_GRID in grid_results:
        columns.append((FIXED_STD_GRID, "gaussian"))
    table = {env: entropy_and_return(results_root, grid_results, columns, env)
             for env in defaults.envs}
    if not any(table.values()):
        return None
    label = {column: STD_1 if column[0] == FIXED_STD_GRID else column[1] for column in columns}
    return "\n".join([
        "### How random each policy ends", "",
        "Measured: the logged entropy of each TRPO policy (nats; for the flow and the GMM "
        "-mean log pi of each iteration's own actions, for the Gaussian its closed form), "
        f"averaged over each run's last {FINAL_FRACTION:.0%} of iterations and over runs, "
        f"beside the final return (entropy / return), on {DEFAULTS_GRID}'s tasks and for "
        f"the std-1 Gaussian of {FIXED_STD_GRID}.", "",
        *entropy_table(table, columns, label), "",
        *comparison_lines(table, columns, label), "", inference(table, columns)])


def entropy_table(table: Dict[str, Dict[Column, Tuple[float, float]]],
                  columns: Sequence[Column], label: Dict[Column, str]) -> List[str]:
    """A row per task, a column per (grid, policy): 'entropy / return', '-' without runs."""
    return ["| task | " + " | ".join(label[column] for column in columns) + " |",
            "|---|" + "---:|" * len(columns),
            *(f"| {env} | " + " | ".join(
                f"{cells[column][0]:.2f} / {number(cells[column][1])}" if column in cells
                else "-" for column in columns) + " |" for env, cells in table.items())]


def flow_sizes_section(grid_results: GridResults, results_root: str) -> Optional[str]:
    """How random each flow size of Figure 7 ends beside its final return, and per task with
    at least 3 sizes (the fewest a rank correlation says anything over) the rank correlation
    of the two over the sizes; None before the grid has runs."""
    if FLOW_SIZES_GRID not in grid_results:
        return None
    grid = grid_results[FLOW_SIZES_GRID][0]
    columns = [(FLOW_SIZES_GRID, policy) for policy in grid.policies]
    table = {env: entropy_and_return(results_root, grid_results, columns, env)
             for env in grid.envs}
    if not any(table.values()):
        return None
    default = PolicyConfig()
    label = {column: column[1] + (f" (K = {default.num_layers}, l1 = {default.num_units})"
                                  if column[1] == "flow" else "") for column in columns}
    return "\n".join([
        "### How random each flow size ends", "",
        f"Measured, as above: the flows of {FLOW_SIZES_GRID} (Figure 7; flow-K<n>: K = n "
        "pairs of couplings, flow-l<n>: l1 = n units in the couplings' nets; the default "
        f"flow's runs are {DEFAULTS_GRID}'s). The rank correlation describes these few "
        "means; it is no test.", "",
        *entropy_table(table, columns, label), "",
        *(size_ranking_line(env, cells, label) for env, cells in table.items()
          if len(cells) >= 3)])


def average_ranks(values: np.ndarray) -> np.ndarray:
    """[n] ranks 0..n-1 of `values`, tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse]


def size_ranking_line(env: str, cells: Dict[Column, Tuple[float, float]],
                      label: Dict[Column, str]) -> str:
    """Which size ends with the least entropy, which with the highest final return, and
    Spearman's rank correlation of final entropy and final return over the sizes
    ('undefined' where either is the same for every size)."""
    columns = list(cells)
    entropies, returns = (np.array([cells[column][i] for column in columns]) for i in (0, 1))
    ranks = [average_ranks(entropies), average_ranks(returns)]
    correlation = "undefined" if min(np.ptp(rank) for rank in ranks) == 0 else \
        f"{np.corrcoef(*ranks)[0, 1]:+.2f}"
    return (f"- {env}: the least random size, {label[columns[entropies.argmin()]]}, ends with "
            f"entropy {entropies.min():.2f}; the size with the highest final return, "
            f"{label[columns[returns.argmax()]]}, ends with {number(returns.max())}; over "
            f"the {len(columns)} sizes the rank correlation of final entropy and final return "
            f"is {correlation}.")


INFERENCE = ("Inferred, not measured: within the same KL radius per step, the flow narrows more "
             "slowly than a Gaussian that learns its std, and a Gaussian whose std stays at 1 "
             "cannot narrow at all; the more random policy ending lower would account for "
             "claim 1 failing against the learned std and holding against the original's std-1 "
             "Gaussian. It does not show why the flow narrows more slowly.")


def flow_against_gaussians(columns: Sequence[Column]) -> List[Tuple[Column, Column]]:
    """(the flow, a Gaussian) for each Gaussian column: the pairs claim 1 turns on."""
    return [((DEFAULTS_GRID, "flow"), column) for column in columns if column[1] == "gaussian"]


def inference(table, columns: Sequence[Column]) -> str:
    """INFERENCE where, for every pair of the flow and a Gaussian, the more random of the two
    ends lower on most tasks where both ran; else that the runs do not bear it out."""
    def holds(a, b):
        both, _, lower = more_random_ends_lower(table, a, b)
        return both > 0 and 2 * (lower + more_random_ends_lower(table, b, a)[2]) > both
    pairs = flow_against_gaussians(columns)
    if pairs and all(holds(a, b) for a, b in pairs):
        return INFERENCE
    return ("The runs do not bear out a simple link between how random a policy ends and how "
            "high it ends.")


def comparison_lines(table, columns: Sequence[Column], label) -> List[str]:
    """One measured sentence per pair of the flow and a Gaussian."""
    lines = []
    for a, b in flow_against_gaussians(columns):
        both, more, lower = more_random_ends_lower(table, a, b)
        _, fewer, fewer_lower = more_random_ends_lower(table, b, a)
        lines.append(f"- flow against {label[b]}: on {more} of {both} tasks the flow ends "
                     f"with more entropy, and on {lower} of those with a lower final return; "
                     f"on {fewer} it ends with less, and on {fewer_lower} of those the "
                     f"{label[b]} ends lower.")
    return lines
