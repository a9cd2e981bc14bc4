"""The paper's claims checked against the harvested grids, and the variant grids compared with
the grids they vary; the verdicts follow verdicts.py.

A claim (reference_results.json entry with `compare`, e.g. "flow > gmm-K2, gaussian" or
"flow ~ gaussian") is checked on every grid that runs its algorithm on its task ("*": all the
grid's tasks) with every policy it names (so "flow > gmm-K2, gaussian" is Figure 3's claim,
not the Humanoid grid's, which has no GMM), either with the original's defaults (`checked_on`
"default settings": no variant, no max_kl draws) or with Figure 6's random max_kl
(`checked_on` "random max_kl"; each draw is one run). Each pair of policies A > B (or A ~ B)
gives one check per grid: on one task, the final returns of A's and B's runs; on several, the
[seeds, tasks] matrices of the seeds that finished every task, so P(A > B) is averaged over
tasks, with the per-task checks behind it kept in `Check.per_task`.

Each claim is decided twice: with the port's defaults (the grids above), and as the original
code ran it (ORIGINAL_VIEW): on the runs of the grids whose flags include `--original`
(`is_original`), pooled per algorithm and budget (Figure 6's claims on the --original grids
with max_kl draws, the others on those without), where the pool declares every policy the
claim names; each pair of policies on the claim's tasks where both are declared. The grids
of the original code's own runs (`is_original_code`), pooled the same way, give a third
view where they run a claim's policies (ORIGINAL_CODE_VIEW).
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from onpolicy_flows.experiments.grids.grid import Grid
from onpolicy_flows.experiments.reference import ReferenceResult
from onpolicy_flows.experiments.results.costs import cost_on_substitute
from onpolicy_flows.experiments.results.harvested import GridResults, MemberResult
from onpolicy_flows.experiments.results.verdicts import (
    INSENSITIVE,
    NO_BIG_GAIN,
    ORDERING,
    Evidence,
    Outcome,
    combine,
    judge,
)

DEFAULT_SETTINGS, RANDOM_MAX_KL = "default settings", "random max_kl"
DEFAULTS_VIEW, ORIGINAL_VIEW = "the port's defaults", "as the original code ran it"
ORIGINAL_CODE_VIEW = "the original code itself"


@dataclass(frozen=True)
class Check:
    """A compared with B on `tasks` of `grid`: runs (of A, of B), mean final return of each
    (over runs and tasks), the evidence (P(A > B) and the permutation p-values; None without
    runs), the verdict, and for several tasks the same check on each task alone
    (`per_task`)."""
    grid: str
    tasks: Tuple[str, ...]
    better: str
    worse: str
    kind: str
    runs: Tuple[int, int]
    means: Tuple[float, float]
    evidence: Optional[Evidence]
    outcome: Outcome
    per_task: Tuple["Check", ...] = ()


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim, the checks that decide it, the combined verdict and, when nothing could check
    it, why."""
    reference: ReferenceResult
    checks: List[Check]
    outcome: Outcome
    note: str = ""


def parse_compare(text: str) -> Tuple[str, List[Tuple[str, str]]]:
    """'a, b > c' -> ('>', [(a, c), (b, c)]); 'a ~ b' -> ('~', [(a, b)]); 'a, b ~= c' ->
    ('~=', [(a, c), (b, c)])."""
    kind = next(kind for kind in (ORDERING, INSENSITIVE, NO_BIG_GAIN) if kind in text)
    left, right = (side.split(",") for side in text.split(kind))
    return kind, [(a.strip(), b.strip()) for a in left for b in right]


def claim_grids(reference: ReferenceResult, grid_results: GridResults
                ) -> List[Tuple[Grid, List[str], List[MemberResult]]]:
    """(grid, the claim's tasks in it, its results) for every grid that can check the claim."""
    wants_draws = reference.checked_on == RANDOM_MAX_KL
    policies = {policy for pair in parse_compare(reference.compare)[1] for policy in pair}
    matches = []
    for grid, results in grid_results.values():
        if (grid.algorithm != reference.algorithm or grid.compare_with or grid.frozen
                or bool(grid.max_kl_draws) != wants_draws
                or not policies <= set(grid.policies)):
            continue
        tasks = [env for env in grid.envs if reference.covers(env)]
        if tasks:
            matches.append((grid, tasks, results))
    return matches


def finals_by_seed(results: Sequence[MemberResult], env: str, policy: str
                   ) -> Dict[int, List[float]]:
    """seed -> defined final returns of the runs of `policy` on `env` (a seed holds several
    runs only in a max_kl grid, one per draw)."""
    by_seed = {}
    for result in results:
        if (result.member.env, result.member.policy) == (env, policy) and \
                np.isfinite(result.final):
            by_seed.setdefault(result.member.seed, []).append(result.final)
    return by_seed


def score_matrix(results: Sequence[MemberResult], tasks: Sequence[str], policy: str
                 ) -> np.ndarray:
    """[runs, tasks] final returns of `policy`: on one task every run; on several, one row per
    seed that has a final return on every task (the k-th runs of a seed that several grids
    pooled here ran more than once, as far as every task has a k-th)."""
    per_task = [finals_by_seed(results, env, policy) for env in tasks]
    if len(tasks) == 1:
        return np.array([value for values in per_task[0].values() for value in values])[:, None]
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in per_task)))
    rows = [[by_seed[seed][k] for by_seed in per_task] for seed in seeds
            for k in range(min(len(by_seed[seed]) for by_seed in per_task))]
    return np.array(rows).reshape(len(rows), len(tasks))


def make_check(grid_name: str, tasks: Sequence[str], better: str, worse: str, kind: str,
               scores_a: np.ndarray, scores_b: np.ndarray, per_task: Sequence[Check] = ()
               ) -> Check:
    """The check of final returns `scores_a` [runs_a, tasks] (A) against `scores_b`."""
    verdict, evidence = judge(kind, scores_a, scores_b)
    means = tuple(float(scores.mean()) if scores.size else float("nan")
                  for scores in (scores_a, scores_b))
    return Check(grid_name, tuple(tasks), better, worse, kind,
                 (len(scores_a), len(scores_b)), means, evidence, verdict, tuple(per_task))


def check_pair(grid_name: str, tasks: Sequence[str], results: Sequence[MemberResult],
               kind: str, better: str, worse: str,
               worse_results: Optional[Sequence[MemberResult]] = None) -> Check:
    """A against B on `tasks` of the grid(s) `grid_name` (with the per-task checks when there
    are several); B's runs from `worse_results` when given, else from `results`."""
    worse_results = results if worse_results is None else worse_results
    per_task = [check_pair(grid_name, [env], results, kind, better, worse, worse_results)
                for env in tasks] if len(tasks) > 1 else []
    return make_check(grid_name, tasks, better, worse, kind,
                      score_matrix(results, tasks, better),
                      score_matrix(worse_results, tasks, worse), per_task)


def is_original(grid: Grid) -> bool:
    """Whether the grid runs the port with `--original`."""
    return bool(grid.flags.get("original"))


def is_original_code(grid: Grid) -> bool:
    """Whether the grid's runs are the original code's own."""
    return grid.original_code


def original_checks(reference: ReferenceResult, grid_results: GridResults,
                    selects: Callable[[Grid], bool] = is_original) -> List[Check]:
    """The claim's checks on the pooled runs of the grids `selects` picks (the `--original`
    grids, or the original code's own) of its algorithm with the same budget (and max_kl
    draws where the claim is Figure 6's), where those grids declare every policy the claim
    names (so Figure 3's claim is not checked on the Humanoid grid, which has no GMM): each
    pair of policies on the claim's tasks where both run."""
    wants_draws = reference.checked_on == RANDOM_MAX_KL
    grids = [(grid, results) for grid, results in grid_results.values()
             if selects(grid) and grid.algorithm == reference.algorithm
             and bool(grid.max_kl_draws) == wants_draws]
    budgets = sorted({grid.num_timesteps for grid, _ in grids})
    return [check for budget in budgets for check in _pooled_checks(
        reference, sorted(((grid, results) for grid, results in grids
                           if grid.num_timesteps == budget), key=lambda item: item[0].name))]


def _pooled_checks(reference: ReferenceResult, grids) -> List[Check]:
    """`original_checks` on the pooled runs of `grids` [(grid, results)], one budget."""
    name = " + ".join(grid.name for grid, _ in grids)
    pooled = [result for _, results in grids for result in results]
    declared = {(env, policy) for grid, _ in grids for env in grid.envs
                for policy in grid.policies}
    kind, pairs = parse_compare(reference.compare)
    if not {policy for pair in pairs for policy in pair} <= {policy for _, policy in declared}:
        return []
    widest_first = sorted(grids, key=lambda item: -len(item[0].envs))  # its order of tasks
    envs = list(dict.fromkeys(env for grid, _ in widest_first for env in grid.envs))
    checks = []
    for better, worse in pairs:
        tasks = [env for env in envs
                 if reference.covers(env) and (env, better) in declared
                 and (env, worse) in declared]
        if tasks:
            checks.append(check_pair(name, tasks, pooled, kind, better, worse))
    return checks


def substituted_checks(reference: ReferenceResult, grid_results: GridResults,
                       variant: str) -> List[Check]:
    """The claim's checks with one policy's runs taken from the `variant` grid instead of the
    grid it varies: for each pair of policies where the variant grid runs one (its policies
    are all of the same class, e.g. fixed_std's Gaussian), that side from the variant grid,
    the other from the grid it varies, on the claim's tasks where both run. Isolates what
    one restored behaviour does to the claim."""
    variant_grid, variant_results = grid_results[variant]
    kind, pairs = parse_compare(reference.compare)
    checks = []
    for grid, tasks, results in claim_grids(reference, grid_results):
        if grid.name != variant_grid.compare_with:
            continue
        tasks = [env for env in tasks if env in variant_grid.envs]
        for better, worse in pairs:
            sides = [variant_results if policy in variant_grid.policies else results
                     for policy in (better, worse)]
            if tasks and sides[0] is not sides[1]:
                checks.append(check_pair(f"{grid.name} / {variant}", tasks, sides[0], kind,
                                         better, worse, sides[1]))
    return checks


# the views that pool grids: view -> (which grids, what the note calls one)
POOLED_VIEWS = {ORIGINAL_VIEW: (is_original, "--original grid"),
                ORIGINAL_CODE_VIEW: (is_original_code, "grid of the original code")}


def check_claim(reference: ReferenceResult, grid_results: GridResults,
                view: str = DEFAULTS_VIEW) -> ClaimVerdict:
    """The verdict of one claim in `view` (DEFAULTS_VIEW, ORIGINAL_VIEW or
    ORIGINAL_CODE_VIEW); NOT_TESTED, with a note, when no grid can check it."""
    if reference.compare is None:
        return ClaimVerdict(reference, [], Outcome.NOT_TESTED,
                            "no grid is declared for this claim")
    if view in POOLED_VIEWS:
        selects, which = POOLED_VIEWS[view]
        checks = original_checks(reference, grid_results, selects)
        missing = f"no {which} runs {reference.algorithm} on {reference.env}" + (
            " with random max_kl" if reference.checked_on == RANDOM_MAX_KL else "")
    else:
        kind, pairs = parse_compare(reference.compare)
        checks = [check_pair(grid.name, tasks, results, kind, better, worse)
                  for grid, tasks, results in claim_grids(reference, grid_results)
                  for better, worse in pairs]
        missing = (f"no grid runs {reference.algorithm} on {reference.env} with "
                   f"{reference.checked_on}")
    if not checks:
        policies = sorted({policy for pair in parse_compare(reference.compare)[1]
                           for policy in pair})
        cost = cost_on_substitute(reference, policies, grid_results) \
            if view == DEFAULTS_VIEW else ""
        return ClaimVerdict(reference, [], Outcome.NOT_TESTED, missing + cost)
    return ClaimVerdict(reference, checks, combine(check.outcome for check in checks))


def compare_variant(grid: Grid, results: Sequence[MemberResult],
                    baseline: Sequence[MemberResult]) -> List[Check]:
    """Per task and policy of a variant grid: its runs (as A) against the same algorithm, task
    and policy in the grid it varies (as B), by the ordering rule (reproduced: the variant
    ends higher)."""
    return [make_check(grid.name, [env], policy, policy, ORDERING,
                       score_matrix(results, [env], policy),
                       score_matrix(baseline, [env], policy))
            for env in grid.envs for policy in grid.policies]
