"""The results page's sections on the original code's own runs: its TRPO Gaussian's std that
never moves, parity of the port with it, and its entropy per iteration beside the port's."""
import os
from typing import List, Tuple

import numpy as np

from onpolicy_flows.experiments.results.harvested import GridResults
from onpolicy_flows.experiments.results.page_figures import draw_per_iteration
from onpolicy_flows.experiments.results.page_text import evidence_text, number
from onpolicy_flows.experiments.results.parity import (
    CONSISTENT,
    action_dim,
    entropy_series,
    logged,
    parity_checks,
)
from onpolicy_flows.experiments.results.verdicts import ALPHA


def log_std_section(grid_results: GridResults, results_root: str) -> str:
    """The finding that the original's TRPO Gaussian never trained its std: its sources, what
    the original code's own Gaussian runs here log, and where the port measures it."""
    # each run's logged entropy less a unit-std Gaussian's, (d/2)(1 + log 2 pi), for its
    # task's action dimension d
    offsets, tasks = [], set()
    for grid, results in grid_results.values():
        if not (grid.original_code and grid.algorithm == "trpo"):
            continue
        for result in results:
            if result.member.policy == "gaussian":
                entropies = logged(results_root, grid, result, "entropy")
                unit_std = 0.5 * action_dim(result.member.env) * (1.0 + np.log(2 * np.pi))
                offsets.append(entropies[np.isfinite(entropies)] - unit_std)
                tasks.add(result.member.env)
    offsets = np.concatenate(offsets or [np.zeros(0)])
    if len(offsets):
        measured = (f"Measured: the original code's own TRPO Gaussian runs here (grid "
                    f"original_code, {', '.join(sorted(tasks))}) log, in every one of their "
                    f"{len(offsets)} iterations, the entropy of a Gaussian with std 1 in "
                    "every action dimension, (d/2)(1 + log 2 pi), to within "
                    f"{np.abs(offsets).max():.1e} nats: a std that never moves.")
    else:
        measured = ("The original code's own TRPO Gaussian runs (grid original_code) are not "
                    "in yet.")
    return "\n".join([
        "### The original's TRPO Gaussian never learnt its std", "",
        "Facts, each in the sources: the original's flow and GMM runners call `U.mean`, "
        "`U.sum` and `U.dense` of baselines' `common/tf_util.py`, which baselines removed in "
        "commit 9fa8e1b (2018-01-25 18:33), so the original ran on a baselines from before it "
        "(parity/README.md). Its Gaussian runner "
        "(`other_baselines/trpo_gaussian/trpo_mpi.py`) trains only the variables whose second "
        "name component starts with `pol`, and that baselines' `ppo1/mlp_policy.py` creates "
        "the log-std at `pi/logstd`, outside the filter: openai/baselines issue #262 (\"TRPO "
        "bug\"), fixed by commit ebb8aff three hours after 9fa8e1b. The GMM's log-stds "
        "(`pi/policy/forward/logstd_k`) and all of the flow's parameters pass their runners' "
        "filters; ACKTR's Gaussian (every variable with \"pi\" in its name) trains its "
        "log-std.", "",
        measured, "",
        "Inferred, not measured: the paper's TRPO Gaussian baseline explored with std 1 "
        "throughout. The port restores it with `--log-std fixed` (grid fixed_std, and every "
        "Gaussian with `--original`); the variant table below and the claims' second verdict "
        "show what it changes."])


def parity_section(grid_results: GridResults) -> str:
    checks = parity_checks(grid_results)
    lines = ["## Parity with the original code", "",
             "The original code's own runs (parity/: onpolicybaselines and the baselines of "
             "January 2018 on today's TensorFlow, unchanged but for a two-line patch) beside "
             "the port's runs of the same algorithm, task and policy, with `--original` and "
             "with the port's defaults. P(port > original) as for the claims; the port is "
             f"**{CONSISTENT}** with the original when the interval contains 0.5 or the "
             f"permutation test gives p > {ALPHA}.", ""]
    if not checks:
        return "\n".join(lines + ["No run of the original code is in yet."])
    lines += ["| algorithm | task | policy | port's grid | runs port / original | "
              "mean final port / original | P(port > original) [95% CI], p | reading |",
              "|---|---|---|---|---:|---:|---|---|"]
    lines += [f"| {check.algorithm} | {check.env} | {check.policy} | {check.port_grid} | "
              f"{check.runs[0]} / {check.runs[1]} | {number(check.means[0])} / "
              f"{number(check.means[1])} | {evidence_text(check.evidence)} | "
              f"{check.reading} |" for check in checks]
    return "\n".join(lines)


ENTROPY_ITERATIONS = (0, 10, 20, 30)


def entropy_section(grid_results: GridResults, results_root: str, figures_dir: str,
                    link) -> Tuple[str, List[str]]:
    """The logged entropy per iteration of the original code's runs beside the port's (issue
    24): a figure per original-code grid and a table; returns (text, written figures)."""
    series = entropy_series(grid_results, results_root)
    if not series:
        return "", []
    panels = {}
    for item in series:
        panels.setdefault(f"{item.env} {item.policy}", []).append(
            (item.grid, item.values))
    figure = draw_per_iteration(panels, os.path.join(figures_dir, "entropy_per_iteration"),
                                "entropy (the original's scale)")[0]
    rows = [f"| {item.env} | {item.policy} | {item.grid} | {len(item.values)} | " +
            " | ".join(f"{item.values[:, i].mean():.2f}" if i < item.values.shape[1] else "-"
                       for i in ENTROPY_ITERATIONS) +
            f" | {item.values[:, -1].mean():.2f} ({item.values.shape[1] - 1}) |"
            for item in series]
    text = "\n".join([
        "### Entropy per iteration, the original code beside the port", "",
        "The logged entropy (-mean log pi of each iteration's own actions, before its step) of "
        "the original code's runs that log it, beside the port's runs of the same algorithm, "
        "budget, task and policy; the port's flow entropy is shifted down by (d/2) log 2 pi "
        "to the original's scale (its flow's log-density drops that constant). Mean over "
        "runs, with the 95% bootstrap band.", "",
        f"![entropy per iteration]({link(figure)})", "",
        "| task | policy | grid | runs | " +
        " | ".join(f"iteration {i}" for i in ENTROPY_ITERATIONS) + " | last (iteration) |",
        "|---|---|---|---:|" + "---:|" * (len(ENTROPY_ITERATIONS) + 1), *rows])
    return text, [figure]
