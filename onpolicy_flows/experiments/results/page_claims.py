"""The results page's sections on the paper's claims: the verdicts in both views with the
checks behind them, the claims with the std-1 Gaussian alone and on the original code's
own runs, and where the results disagree with the paper (with the variant grids that test
our deliberate differences)."""
import re
from typing import List, Sequence, Tuple

from onpolicy_flows.experiments.reference import ReferenceResult
from onpolicy_flows.experiments.results.claims import (
    ORIGINAL_CODE_VIEW,
    Check,
    ClaimVerdict,
    check_claim,
    compare_variant,
    substituted_checks,
)
from onpolicy_flows.experiments.results.harvested import GridResults
from onpolicy_flows.experiments.results.page_text import (
    counted,
    evidence_text,
    number,
    ordered,
    steps_text,
)
from onpolicy_flows.experiments.results.statistics import CONFIDENCE
from onpolicy_flows.experiments.results.verdicts import (
    LARGE_EFFECT,
    MAX_RUNS_TO_DECIDE,
    MIN_RUNS,
    POWER,
    Outcome,
    combine,
    runs_to_decide,
)

ORIGINAL_VIEW_NOTE = ("the Gaussian TRPO's std fixed at 1, the original's GMM log-density and "
                      "LayerNorm second derivatives, dropped batches, time limits as "
                      "terminations, the original's timestep counts and ACKTR's weight-decay "
                      "damping and 2500-step flow batch; docs/divergences.md. Its grids' runs "
                      "are pooled per algorithm and budget, Figure 6's draws apart; a claim is "
                      "checked on a pool that runs every policy it names, each pair of "
                      "policies on the tasks where both run")


VARIANT_READINGS = {Outcome.REPRODUCED: "variant ends higher",
                    Outcome.NOT_REPRODUCED: "variant ends lower",
                    Outcome.INCONCLUSIVE: "no clear difference"}


def check_text(check: Check) -> str:
    """'fig5_acktr: flow > gaussian, P = 0.00 [0.00, 0.00], p = 0.050, runs 3 vs 3'; a check
    over several tasks that no seed has finished on every task says so and gives its per-task
    checks that have runs."""
    text = f"{check.grid}: {check.better} {check.kind} {check.worse}, {evidence_and_runs(check)}"
    started = [part for part in check.per_task if any(part.runs)]
    if min(check.runs) == 0 and started:
        text += " (no seed has finished every task; " + "; ".join(
            f"{part.tasks[0]} alone: {evidence_and_runs(part)}" for part in started) + ")"
    return text


def evidence_and_runs(check: Check) -> str:
    """'P = 0.00 [0.00, 0.00], p = 0.050, runs 3 vs 3'."""
    return f"P = {evidence_text(check.evidence)}, runs {check.runs[0]} vs {check.runs[1]}"


def tally(verdicts: Sequence[ClaimVerdict]) -> str:
    """'2 reproduced, 5 not reproduced, 6 inconclusive': the count of each outcome, in the
    order of Outcome, leaving out those no claim has."""
    counts = [(outcome, sum(verdict.outcome == outcome for verdict in verdicts))
              for outcome in Outcome]
    return ", ".join(f"{count} {outcome.value}" for outcome, count in counts if count)


DECIDED = (Outcome.REPRODUCED, Outcome.NOT_REPRODUCED)


def view_changes(verdicts: Sequence[ClaimVerdict],
                 original_verdicts: Sequence[ClaimVerdict]) -> str:
    """Which claims the two views decide, and whether alike: ' Decided in both views of the
    table below: claims 1 and 2 not reproduced with the port's defaults but reproduced as
    the original code ran it; claim 5 not reproduced in both.' Empty when no claim is decided
    in both."""
    groups = {}
    for index, (verdict, original) in enumerate(zip(verdicts, original_verdicts), start=1):
        if verdict.outcome in DECIDED and original.outcome in DECIDED:
            groups.setdefault((verdict.outcome, original.outcome), []).append(index)
    parts = []
    for (ours, theirs), indices in groups.items():
        numbers = [str(index) for index in indices]
        claims = (f"claim {numbers[0]}" if len(numbers) == 1 else
                  f"claims {', '.join(numbers[:-1])} and {numbers[-1]}")
        parts.append(f"{claims} {ours.value} in both" if ours == theirs else
                     f"{claims} {ours.value} with the port's defaults but {theirs.value} as "
                     "the original code ran it")
    return f" Decided in both views of the table below: {'; '.join(parts)}." if parts else ""


def claims_section(verdicts: Sequence[ClaimVerdict], original_verdicts: Sequence[ClaimVerdict],
                   grid_results: GridResults) -> str:
    rows, check_rows = [], []
    for index, (verdict, original) in enumerate(zip(verdicts, original_verdicts), start=1):
        reference = verdict.reference
        why = "<br>".join(check_text(check) for check in verdict.checks) or verdict.note
        why_original = "<br>".join(check_text(check) for check in original.checks) or \
            original.note
        rows.append(f"| {index} | {reference.claim} | {reference.algorithm} | "
                    f"{reference.env} | {steps_text(reference.timesteps)} | "
                    f"**{verdict.outcome.value}** | {why} | **{original.outcome.value}** | "
                    f"{why_original} |")
        for check in [*verdict.checks, *original.checks]:
            check_rows += check_with_its_tasks(index, check, check_steps(check, grid_results))
    return "\n".join([
        "## The paper's claims",
        "",
        "Each claim is decided twice: with the port's defaults, and as the original code ran "
        f"it: every policy with `--original` ({ORIGINAL_VIEW_NOTE}).",
        "",
        f"In all, of the {len(verdicts)} claims: with the port's defaults "
        f"{tally(verdicts)}; as the original code ran it {tally(original_verdicts)}."
        f"{view_changes(verdicts, original_verdicts)}",
        "",
        "| # | claim | algorithm | task (paper) | paper's steps | verdict, port's defaults | "
        "evidence | verdict, as the original code ran it | evidence |",
        "|---:|---|---|---|---:|---|---|---|---|",
        *rows,
        "",
        "The checks behind the verdicts (a check over several tasks is followed by its "
        "per-task checks; mean final returns are over runs and tasks). For an inconclusive "
        "check, the last column estimates how many runs a side would decide it if P(A > B) "
        f"stayed as seen: Noether's sample size for a one-sided test at the "
        f"{(1 - CONFIDENCE) / 2:.3f} level of one end of the {CONFIDENCE:.0%} interval with "
        f"power {POWER}, for an effect the margin of the verdict easiest to reach (P's "
        f"distance to 0.5 for an ordering, to {LARGE_EFFECT} for \"no big gain\", to the "
        f"nearer end of ({1 - LARGE_EFFECT:.2f}, {LARGE_EFFECT}) for insensitivity) (\"more than "
        f"{MAX_RUNS_TO_DECIDE}\": P is too close to every bound for more seeds to settle it):",
        "",
        *CHECK_TABLE_HEAD,
        *check_rows])


CHECK_TABLE_HEAD = ["| # | grid | tasks | steps | A vs B | runs A / B | mean final A / B | "
                    "P(A > B) [95% CI], p | verdict | runs a side to decide |",
                    "|---:|---|---|---:|---|---:|---:|---|---|---:|"]


def check_steps(check: Check, grid_results: GridResults) -> str:
    """The budget of the check's grid (the largest of a pool's, 'a + b', or of a grid and
    the variant that replaces one side, 'a / b')."""
    return steps_text(max(grid_results[name][0].num_timesteps
                          for name in re.split(r" \+ | / ", check.grid)))


def check_row(index: int, check: Check, tasks: str, steps: str) -> str:
    return (f"| {index} | {check.grid} | {tasks} | {steps} | {check.better} vs {check.worse} | "
            f"{check.runs[0]} / {check.runs[1]} | {number(check.means[0])} / "
            f"{number(check.means[1])} | {evidence_text(check.evidence)} | "
            f"{check.outcome.value} | {runs_to_decide_text(check)} |")


def check_with_its_tasks(index: int, check: Check, steps: str) -> List[str]:
    """The check's row over its tasks, followed by a row per task ("<task> alone")."""
    return [check_row(index, check, ", ".join(check.tasks), steps),
            *(check_row(index, part, f"&nbsp;&nbsp;{part.tasks[0]} alone", steps)
              for part in check.per_task)]


def runs_to_decide_text(check: Check) -> str:
    """For an inconclusive check: the runs a side that would decide it if P stayed as seen."""
    if check.outcome != Outcome.INCONCLUSIVE or check.evidence is None:
        return "-"
    runs = runs_to_decide(check.evidence.probability.value, len(check.tasks), check.kind)
    return f"about {runs}" if runs else f"more than {MAX_RUNS_TO_DECIDE}"


FIXED_STD_GRID = "fixed_std"


def fixed_std_section(claimed: Sequence[ReferenceResult], grid_results: GridResults) -> str:
    """The claims about the TRPO Gaussian with its runs from fixed_std (std 1) and every
    other policy's from the port's defaults: what the fixed std alone does to them."""
    if FIXED_STD_GRID not in grid_results:
        return ""
    checked = [(index, substituted_checks(reference, grid_results, FIXED_STD_GRID))
               for index, reference in enumerate(claimed, start=1)
               if reference.compare is not None]
    return checked_elsewhere_section(
        "Does the fixed std alone explain the claims?",
        "The claims about the TRPO Gaussian, with the Gaussian's runs taken from the "
        f"{FIXED_STD_GRID} grid (`--log-std fixed`: std 1, as the original's; every other "
        "setting the port's default) and the other policy's from fig3_trpo. Measured, one "
        "restored behaviour at a time; the claims' second verdict above restores all of them.",
        "with the std-1 Gaussian", checked, grid_results)


def original_code_section(claimed: Sequence[ReferenceResult],
                          grid_results: GridResults) -> str:
    """The claims that the original code's own runs check (its grids run every policy the
    claim names on the claim's task), with the checks behind them."""
    checked = [(index, check_claim(reference, grid_results, ORIGINAL_CODE_VIEW).checks)
               for index, reference in enumerate(claimed, start=1)]
    return checked_elsewhere_section(
        "The claims on the original code's own runs",
        "The claims whose policies the original code's own grids run on the claim's task, "
        "decided by the same rule on those runs alone: the paper's code, not the port, rerun "
        "here on gymnasium's -v4 tasks under today's TensorFlow (parity/README.md; its TRPO "
        "budget counts the steps of finished episodes, as the original did, so its runs take "
        "more env steps than the steps column says). Measured; the other claims have no such "
        "grid.",
        "on the original code's own runs", checked, grid_results)


def checked_elsewhere_section(title: str, intro: str, where: str,
                              checked: Sequence[Tuple[int, Sequence[Check]]],
                              grid_results: GridResults) -> str:
    """A section of claims decided on other runs than the claims table's: `checked` [(claim
    number, its checks)] as rows (each check with its tasks) and a summary in words; empty
    when no claim has a check."""
    rows = [row for index, checks in checked for check in checks
            for row in check_with_its_tasks(index, check, check_steps(check, grid_results))]
    if not rows:
        return ""
    summaries = [claim_summary(index, checks) for index, checks in checked if checks]
    return "\n".join([f"### {title}", "", intro, "", *CHECK_TABLE_HEAD, *rows, "",
                      f"In words, {where}: " + "; ".join(summaries) + "."])


def claim_summary(index: int, checks: Sequence[Check]) -> str:
    """"claim N <combined verdict>", and where it is not decisive, which tasks went which
    way."""
    verdict = combine(check.outcome for check in checks)
    text = f"claim {index} **{verdict.value}**"
    if verdict == Outcome.INCONCLUSIVE and any(check.per_task for check in checks):
        by_outcome = {}
        for part in (part for check in checks for part in check.per_task):
            by_outcome.setdefault(part.outcome.value, []).append(part.tasks[0])
        text += " (per task: " + "; ".join(
            f"{outcome} on {', '.join(tasks)}" for outcome, tasks in by_outcome.items()) + ")"
    return text


def disagreements_section(verdicts: Sequence[ClaimVerdict], grid_results: GridResults) -> str:
    contradicted = [verdict for verdict in verdicts
                    if verdict.outcome == Outcome.NOT_REPRODUCED]
    open_ = sum(verdict.outcome == Outcome.INCONCLUSIVE for verdict in verdicts)
    untested = sum(verdict.outcome == Outcome.NOT_TESTED for verdict in verdicts)
    lines = ["## Where the results disagree with the paper", ""]
    if contradicted:
        lines += [f"- **{verdict.reference.claim}** ({verdict.reference.algorithm}, "
                  f"{verdict.reference.env}): " + "; ".join(
                      check_text(check) for check in verdict.checks
                      if check.outcome == Outcome.NOT_REPRODUCED)
                  for verdict in contradicted]
    else:
        lines.append("No claim is contradicted by the runs so far.")
    on_single_tasks = [(verdict, part) for verdict in verdicts
                       if verdict.outcome != Outcome.NOT_REPRODUCED
                       for check in verdict.checks for part in check.per_task
                       if part.outcome == Outcome.NOT_REPRODUCED]
    if on_single_tasks:
        lines += ["", "On single tasks, where the claim over all its tasks is still open "
                      "(its check needs the same seeds finished on every task):", ""]
        lines += [f"- **{verdict.reference.claim}** ({verdict.reference.algorithm}, "
                  f"{part.tasks[0]} alone): {check_text(part)}"
                  for verdict, part in on_single_tasks]
    lines += ["", f"{counted(open_, 'claim')} {'is' if open_ == 1 else 'are'} inconclusive "
                  f"(too few runs or overlapping results) and {untested} "
                  f"{'is' if untested == 1 else 'are'} not tested by any grid.", "",
              "### What might explain a disagreement", "",
              "Our deliberate differences from the original code are listed in "
              "[divergences.md](divergences.md). The grids below each change one of them "
              "back (or try an option) and are compared with the same algorithm, task and "
              "policy run with our defaults (A: the variant, B: the default):", "",
              "| grid | change | task | policy | runs A / B | mean final A / B | "
              "P(A > B) [95% CI], p | reading |",
              "|---|---|---|---|---:|---:|---|---|"]
    for grid, results in ordered(grid_results):
        if not grid.compare_with:
            continue
        for check in compare_variant(grid, results, grid_results[grid.compare_with][1]):
            reading = VARIANT_READINGS[check.outcome] if min(check.runs) >= MIN_RUNS else \
                f"fewer than {MIN_RUNS} runs a side"
            lines.append(f"| {grid.name} | {grid.variant} | {check.tasks[0]} | "
                         f"{check.better} | {check.runs[0]} / {check.runs[1]} | "
                         f"{number(check.means[0])} / {number(check.means[1])} | "
                         f"{evidence_text(check.evidence)} | {reading} |")
    lines += ["", "Other differences that no grid isolates: the tasks are gymnasium's `-v4` "
                  "MuJoCo tasks and pybullet's ports of the Roboschool humanoids (the paper: "
                  "gym `-v1` through mujoco_py, Roboschool and rllab; Ant-v4 observes no "
                  "contact forces, Ant-v1 did; [tasks.md](tasks.md)), fewer seeds, and the "
                  "step budgets of the grids (the \"paper's steps\" column above against each "
                  "check's steps).",
              "", "TRPO takes no policy step in an iteration where the conjugate-gradient "
                  "direction gives a non-positive quadratic form (the Hessian of the sample "
                  "KL of the flow and the GMM can give one; the Gaussian's closed-form KL "
                  "cannot) or where its line search finds no acceptable step, and with "
                  "`--non-positive-fisher drop-batch` (the original flow's rule) drops the "
                  "first kind of batch without a log row; the \"policy steps skipped\" "
                  "column of the TRPO tables below gives how often, over the batches "
                  "collected (a dropped batch's count estimated from the env steps), and the "
                  "fisher_score grid uses a Fisher rule that is never non-positive.",
              "", "The GMM starts with its components almost on top of each other. There "
                  "the mixture's KL does not curve when two components move apart (in "
                  "expectation; the sample estimate's sign is random: "
                  "`tests/test_gmm.py`), so the trust region hardly bounds TRPO's step in "
                  "that direction (the damping does): a natural-gradient step can pull the "
                  "components far apart, a likely reason why the GMM learns more slowly than "
                  "the Gaussian. The original's GMM log-density (the mean of the component "
                  "log-densities, not the mixture's) curves there as a single Gaussian does; "
                  "the gmm_log_density grid measures what that changes (both still skip "
                  "steps: their sample Hessians can be indefinite in other directions).",
              "", "The \"final episode length\" column of the tables below tells a policy "
                  "that runs its episodes to the time limit (1000 steps) at a low reward "
                  "from one that learnt to end them early (which pays on the tasks whose "
                  "episodes end when the body leaves a healthy range, once a step's reward "
                  "net of its control cost is negative)."]
    return "\n".join(lines)
