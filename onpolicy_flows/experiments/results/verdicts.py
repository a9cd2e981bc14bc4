"""The verdict rule, in one place: does a comparison of final returns reproduce a claim?

RULE states it in words (the results page prints it); `outcome`, `judge` and `combine`
apply it. The evidence (`Evidence`) is the probability of improvement P(A > B) with its
stratified-bootstrap 95% interval (`statistics.probability_of_improvement`), over final
returns [runs, tasks], and the permutation test's one-sided p-values of "A ends above
B" and of "A ends below B" (`statistics.permutation_p_value`).
"""
import enum
from dataclasses import dataclass
from statistics import NormalDist
from typing import Iterable, Optional, Tuple

import numpy as np

from onpolicy_flows.experiments.results.statistics import (
    CONFIDENCE,
    MAX_EXACT_LABELINGS,
    SAMPLED_LABELINGS,
    Estimate,
    permutation_p_value,
    probability_of_improvement,
)

MIN_RUNS = 3
ALPHA = 0.05  # a decisive verdict needs the permutation test's p at most this
LARGE_EFFECT = 0.71  # Vargha & Delaney (2000): P(A > B) >= 0.71 is a large effect
ORDERING, NO_BIG_GAIN, INSENSITIVE = ">", "~", "~="


@dataclass(frozen=True)
class Evidence:
    """P(A > B) with its interval, and the one-sided permutation p-values of A ending above
    B (`p_above`) and below B (`p_below`)."""
    probability: Estimate
    p_above: float
    p_below: float

    @property
    def p_value(self) -> float:
        """The p-value in the direction P(A > B) points to (above when P >= 0.5)."""
        return self.p_above if self.probability.value >= 0.5 else self.p_below


class Outcome(enum.Enum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"
    NOT_TESTED = "not tested"


RULE = (f"The evidence for \"A is better than B\" is P(A > B), the probability that a run of A "
        f"ends above a run of B on the same task (ties count half; averaged over tasks), with "
        f"its 95% stratified-bootstrap interval (rliable). A claim \"A > B\" is **reproduced** "
        f"when the interval lies above 0.5, **not reproduced** when it lies below 0.5 (the "
        f"ordering is reversed), **inconclusive** otherwise; either decisive verdict also needs "
        f"the permutation test of the runs (relabelled within each task; one-sided, in "
        f"the verdict's direction; exact over every relabeling where a task has at most "
        f"{MAX_EXACT_LABELINGS:,}, else from {SAMPLED_LABELINGS:,} random ones and the "
        f"observed one, as for Figure 6's draws) to give p <= {ALPHA}. The paper's \"no big "
        f"gain\" remark (\"A ~ B\") is **reproduced** when the interval lies below "
        f"{LARGE_EFFECT} (Vargha and Delaney's threshold of a large effect) and **not "
        f"reproduced** when it lies above {LARGE_EFFECT}, a large gain (and p <= {ALPHA}); a "
        f"gain that is clear but smaller does not refute it. The paper's insensitivity to a "
        f"setting (\"A ~= B\", A the changed setting, B the default) is **reproduced** when "
        f"the interval lies within ({1 - LARGE_EFFECT:.2f}, {LARGE_EFFECT}), no large effect "
        f"either way, and **not reproduced** when it lies wholly outside that band, a large "
        f"effect one way or the other (with p <= {ALPHA} in its direction). Fewer than "
        f"{MIN_RUNS} runs on either side is always inconclusive: {MIN_RUNS} a side is the "
        f"fewest with which the permutation test can reach p = {ALPHA} on one task (1 / "
        f"C(6, 3) = 0.05, when every run of one side ends above every run of the other; with "
        f"a bootstrap interval that then collapses to a point); 4 a side can reach 0.014, 5 a "
        f"side 0.004. A claim "
        f"checked several times (several pairs of policies or several grids) is reproduced "
        f"when every check is, not reproduced when any check is not, and inconclusive "
        f"otherwise.")


def outcome(kind: str, evidence: Evidence) -> Outcome:
    """The verdict of `kind` (ORDERING, NO_BIG_GAIN or INSENSITIVE) given the evidence."""
    probability = evidence.probability
    if kind == ORDERING:
        return {1: Outcome.REPRODUCED, -1: Outcome.NOT_REPRODUCED,
                0: Outcome.INCONCLUSIVE}[_side(evidence, 0.5)]
    if _side(evidence, LARGE_EFFECT) == 1 or (
            kind == INSENSITIVE and _side(evidence, 1 - LARGE_EFFECT) == -1):
        return Outcome.NOT_REPRODUCED  # a large effect
    small = probability.high < LARGE_EFFECT and (kind == NO_BIG_GAIN or
                                                 probability.low > 1 - LARGE_EFFECT)
    return Outcome.REPRODUCED if small else Outcome.INCONCLUSIVE


def _side(evidence: Evidence, bound: float) -> int:
    """1 when P(A > B)'s interval lies above `bound` and the permutation test finds A above B
    at p <= ALPHA; -1 when it lies below and the test finds A below B; else 0."""
    if evidence.probability.low > bound and evidence.p_above <= ALPHA:
        return 1
    if evidence.probability.high < bound and evidence.p_below <= ALPHA:
        return -1
    return 0


def judge(kind: str, better: np.ndarray, worse: np.ndarray
          ) -> Tuple[Outcome, Optional[Evidence]]:
    """(verdict, evidence) for final returns `better` [runs_a, tasks] (A) and `worse`
    [runs_b, tasks] (B); the evidence is None when a side has no run."""
    if not len(better) or not len(worse):
        return Outcome.INCONCLUSIVE, None
    if not (np.isfinite(better).all() and np.isfinite(worse).all()):
        raise ValueError("final returns must be finite: leave out the runs without one")
    evidence = Evidence(probability_of_improvement(better, worse),
                        permutation_p_value(better, worse), permutation_p_value(worse, better))
    if min(len(better), len(worse)) < MIN_RUNS:
        return Outcome.INCONCLUSIVE, evidence
    return outcome(kind, evidence), evidence


POWER = 0.8
MAX_RUNS_TO_DECIDE = 100


def runs_to_decide(probability: float, tasks: int = 1, kind: str = ORDERING
                   ) -> Optional[int]:
    """Runs a side with which the rule of `kind` would decide a check if P(A > B) stayed at
    `probability`: Noether's (1987) sample size for the Wilcoxon-Mann-Whitney test, N =
    (z_a + z_power)^2 / (3 d^2) runs in all, half a side, divided by the number of tasks that
    average into P (each adds an independent comparison); at least MIN_RUNS. z_a is that of
    one end of the rule's CONFIDENCE interval (0.025 for 95%), z_power that of POWER, and d
    the margin of the verdict easiest to reach (`decisive_margin`). An approximation: a
    verdict that needs both ends of the interval inside a band holds each end at POWER. None
    when d is 0 or the answer exceeds MAX_RUNS_TO_DECIDE: then more seeds would not decide
    it."""
    margin = decisive_margin(probability, kind)
    if margin < 1e-9:
        return None
    z = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2) + NormalDist().inv_cdf(POWER)
    per_side = z ** 2 / (6 * margin ** 2) / tasks
    runs = max(MIN_RUNS, int(np.ceil(per_side)))
    return runs if runs <= MAX_RUNS_TO_DECIDE else None


def decisive_margin(probability: float, kind: str) -> float:
    """P(A > B)'s distance to the bound the interval must clear for the verdict the rule of
    `kind` reaches most easily: 0.5 for an ordering; LARGE_EFFECT for "no big gain" (below
    it reproduces, above it refutes); for insensitivity the nearer end of the band
    (1 - LARGE_EFFECT, LARGE_EFFECT) (inside it reproduces, outside it refutes)."""
    if kind == ORDERING:
        return abs(probability - 0.5)
    if kind == NO_BIG_GAIN:
        return abs(LARGE_EFFECT - probability)
    return min(abs(probability - (1 - LARGE_EFFECT)), abs(LARGE_EFFECT - probability))


def combine(outcomes: Iterable[Outcome]) -> Outcome:
    """One verdict from several checks of a claim (see the module docstring)."""
    outcomes = [value for value in outcomes if value != Outcome.NOT_TESTED]
    if not outcomes:
        return Outcome.NOT_TESTED
    if Outcome.NOT_REPRODUCED in outcomes:
        return Outcome.NOT_REPRODUCED
    if all(value == Outcome.REPRODUCED for value in outcomes):
        return Outcome.REPRODUCED
    return Outcome.INCONCLUSIVE
