"""The results page's section per grid: its learning curves and final returns, or for a
Figure 6 grid the quantiles of its max_kl draws; and Figure 1's KL ball."""
import json
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from onpolicy_flows.common.durations import format_duration
from onpolicy_flows.experiments.figures import kl_ball
from onpolicy_flows.experiments.grids.grid import Grid
from onpolicy_flows.experiments.reference import ReferenceResult, references_for
from onpolicy_flows.experiments.results.claims import Check, ClaimVerdict
from onpolicy_flows.experiments.results.harvested import (
    MemberResult,
    by_task_and_policy,
    finals,
    finals_by_task_and_policy,
    group_results,
)
from onpolicy_flows.experiments.results.page_claims import check_text
from onpolicy_flows.experiments.results.page_text import estimate_text, number, steps_text
from onpolicy_flows.experiments.results.statistics import final_estimates

QUANTILE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def final_returns_table(grid: Grid, results: Sequence[MemberResult],
                        references: List[ReferenceResult]) -> str:
    """Per task and policy: runs, final return (mean and IQM), the mean length of the final
    episodes, the share of iterations that took no policy step (for grids whose runs log
    it), wall-clock, published numbers."""
    rows = []
    groups = group_results(results, by_task_and_policy)
    logs_skips = any(result.skipped_steps is not None for result in results)
    for env in grid.envs:
        published = ", ".join(f"{number(reference.value)} ({reference.algorithm} "
                              f"{reference.policy}, {reference.env})"
                              for reference in references_for(env, grid.algorithm, references)
                              if reference.is_training_return) or "-"
        for policy in grid.policies:
            group = groups.get((env, policy), [])
            values = finals(group)
            mean, iqm = final_estimates(values) if len(values) else (None, None)
            wall_clock = format_duration(np.mean([result.wall_clock for result in group])
                                         ) if group else "-"
            skips = f" {skipped_text(group)} |" if logs_skips else ""
            rows.append(f"| {env} | {policy} | {len(values)} | {estimate_text(mean)} | "
                        f"{estimate_text(iqm)} | {length_text(group)} |{skips} {wall_clock} | "
                        f"{published} |")
    skips_header = (" policy steps skipped |", "---:|") if logs_skips else ("", "")
    return "\n".join([
        "| task | policy | runs | final return, mean [95% CI] | IQM [95% CI] | "
        f"final episode length |{skips_header[0]} wall-clock per run | "
        "published (training episodes) |",
        f"|---|---|---:|---:|---:|---:|{skips_header[1]}---:|---|", *rows])


def length_text(group: Sequence[MemberResult]) -> str:
    """The mean over `group`'s runs of their final episodes' mean length, in env steps."""
    lengths = [result.final_length for result in group if np.isfinite(result.final_length)]
    return f"{np.mean(lengths):.0f}" if lengths else "-"


def skipped_text(group: Sequence[MemberResult]) -> str:
    """The mean share of batches without a policy step over `group`'s runs (dropped ones
    included: `harvested.batches_collected`), in percent ("-" if none logs it)."""
    fractions = [result.skipped_steps for result in group if result.skipped_steps is not None]
    return f"{100 * np.mean(fractions):.0f}%" if fractions else "-"


def checks_on(grid: Grid, verdicts: Sequence[ClaimVerdict]
              ) -> List[Tuple[ClaimVerdict, Check]]:
    """(claim verdict, check) for every check that reads `grid`'s runs (alone or pooled)."""
    return [(verdict, check) for verdict in verdicts for check in verdict.checks
            if grid.name in check.grid.split(" + ")]


def budget_text(grid: Grid, verdicts: Sequence[ClaimVerdict]) -> str:
    """The grid's budget per run, and the paper's for the claims the grid checks (in either
    view) where it differs or is not stated."""
    budgets = {verdict.reference.timesteps for verdict, _ in checks_on(grid, verdicts)}
    text = f"{grid.algorithm.upper()}, {steps_text(grid.num_timesteps)} steps per run"
    stated = sorted(budget for budget in budgets if budget)
    if stated == [grid.num_timesteps]:
        return text + ", the paper's budget."
    if stated:
        return text + f"; the paper ran {' and '.join(map(steps_text, stated))} steps."
    return text + ("; the paper does not state its budget." if budgets else ".")


def grid_title(grid: Grid) -> str:
    """The heading of a grid's section; a Figure 6 grid's says so, with or without runs."""
    return f"### {grid.name}" + (": sensitivity to max_kl (Figure 6)"
                                 if grid.max_kl_draws else "")


def grid_section(grid: Grid, results: Sequence[MemberResult], figure: Optional[str],
                 references: List[ReferenceResult], verdicts: Sequence[ClaimVerdict]) -> str:
    lines = [grid_title(grid), "", f"{grid.description} {budget_text(grid, verdicts)}", ""]
    if not results:
        return "\n".join(lines + ["No finished run yet.", ""])
    if figure:
        lines += [f"![{grid.name}]({figure})", ""]
    if grid.compare_with:
        lines += [f"Dashed: {grid.variant}; solid: the same policy in {grid.compare_with}.", ""]
    env_steps = np.nanmean([result.env_steps for result in results])
    if env_steps > 1.01 * grid.num_timesteps:
        lines += [f"Counted the original's way, these runs took {env_steps:,.0f} env steps on "
                  f"average (their monitor files, at the last finished episode) to count "
                  f"{grid.num_timesteps:,}; every return here is read at equal env steps, up "
                  f"to {grid.num_timesteps:,}.", ""]
    return "\n".join(lines + [final_returns_table(grid, results, references), ""])


def max_kl_section(grid: Grid, results: Sequence[MemberResult], figure: str,
                   verdicts: Sequence[ClaimVerdict]) -> str:
    """Figure 6 on one grid: the quantiles of its draws' final returns per policy, beside the
    paper's words and the outcome of each check that reads this grid (a claim checked on
    several grids combines them in the claims table)."""
    rows = []
    for env, by_policy in finals_by_task_and_policy(grid, results).items():
        for policy, values in by_policy.items():
            quantiles = np.quantile(values, QUANTILE_LEVELS) if len(values) else \
                [float("nan")] * len(QUANTILE_LEVELS)
            rows.append(f"| {env} | {policy} | {len(values)} | " +
                        " | ".join(number(value) for value in quantiles) + " |")
    max_kls = sorted({result.member.max_kl for result in results})
    span = f"{max_kls[0]:.4f} to {max_kls[-1]:.4f}" if max_kls else "-"
    return "\n".join([
        grid_title(grid), "",
        f"{grid.description} {budget_text(grid, verdicts)} Finished draws span max_kl "
        f"{span}; each draw is one run, and the claim's verdict above compares the two "
        "policies over the draws.", "",
        f"![{grid.name}]({figure})", "",
        "| task | policy | draws | min | 25% | median | 75% | max |",
        "|---|---|---:|---:|---:|---:|---:|---:|", *rows, "",
        *(f"The paper ({verdict.reference.source}): \"{verdict.reference.quote}\" This "
          f"grid's check: **{check.outcome.value}**, {check_text(check)}."
          for verdict, check in checks_on(grid, verdicts)),
        ""])


def kl_ball_section(results_root: str) -> str:
    path = os.path.join(results_root, kl_ball.SPREAD_RATIOS_FILE)
    lines = ["## Figure 1: the KL ball", ""]
    if not os.path.isfile(path):
        return "\n".join(lines + ["Not computed yet: `python -m run.toy kl_ball --inits 20`."])
    with open(path) as file:
        data = json.load(file)
    lines += [f"A Gaussian and a flow fitted onto the boundary KL = {data['kl_radius']} around "
              f"the same reference samples, from {len(data['inits'])} random initialisations "
              f"(`{data['command']}`). The paper reports the flow much wider than the Gaussian; "
              "the ratios below are flow over Gaussian (> 1: the flow is wider).", "",
              "| spread statistic | inits | min | 25% | median | 75% | max | flow wider |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for statistic, summary in data["distribution"].items():
        quantiles = " | ".join(f"{value:.2f}" for value in summary["quantiles"].values())
        lines.append(f"| {statistic} | {summary['count']} | {quantiles} | "
                     f"{summary['exceed_one']} of {summary['count']} |")
    return "\n".join(lines)
