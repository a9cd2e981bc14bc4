"""The verdict rule, in one place: does a comparison of final returns reproduce a claim?

RULE states it in words (the results page prints it); `outcome`, `judge` and `combine`
apply it. The evidence is the probability of improvement P(A > B) with its stratified-bootstrap
95% interval (`statistics.probability_of_improvement`), over final returns [runs, tasks].
"""
import enum
from typing import Iterable, Optional, Tuple

import numpy as np

from onpolicy_flows.experiments.results.statistics import Estimate, probability_of_improvement

MIN_RUNS = 3
LARGE_EFFECT = 0.71  # Vargha & Delaney (2000): P(A > B) >= 0.71 is a large effect
ORDERING, NO_BIG_GAIN = ">", "~"


class Outcome(enum.Enum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"
    NOT_TESTED = "not tested"


RULE = (f"The evidence for \"A is better than B\" is P(A > B), the probability that a run of A "
        f"ends above a run of B on the same task (ties count half; averaged over tasks), with "
        f"its 95% stratified-bootstrap interval (rliable). A claim \"A > B\" is **reproduced** "
        f"when the interval lies above 0.5, **not reproduced** when it lies below 0.5 (the "
        f"ordering is reversed), **inconclusive** otherwise. The paper's \"no big gain\" "
        f"remark (\"A ~ B\") is **not reproduced** when the interval lies above 0.5 and "
        f"**reproduced** when it lies below {LARGE_EFFECT} (Vargha and Delaney's threshold of a "
        f"large effect), inconclusive otherwise. Fewer than {MIN_RUNS} runs on either side is "
        f"always inconclusive. A claim checked several times (several pairs of policies or "
        f"several grids) is reproduced when every check is, not reproduced when any check is "
        f"not, and inconclusive otherwise.")


def outcome(kind: str, probability: Estimate) -> Outcome:
    """The verdict of `kind` (ORDERING or NO_BIG_GAIN) given P(A > B) and its interval."""
    if kind == ORDERING:
        if probability.low > 0.5:
            return Outcome.REPRODUCED
        return Outcome.NOT_REPRODUCED if probability.high < 0.5 else Outcome.INCONCLUSIVE
    if probability.low > 0.5:
        return Outcome.NOT_REPRODUCED
    return Outcome.REPRODUCED if probability.high < LARGE_EFFECT else Outcome.INCONCLUSIVE


def judge(kind: str, better: np.ndarray, worse: np.ndarray
          ) -> Tuple[Outcome, Optional[Estimate]]:
    """(verdict, P(A > B)) for final returns `better` [runs_a, tasks] (A) and `worse`
    [runs_b, tasks] (B); P is None when a side has no run."""
    if not len(better) or not len(worse):
        return Outcome.INCONCLUSIVE, None
    probability = probability_of_improvement(better, worse)
    if min(len(better), len(worse)) < MIN_RUNS:
        return Outcome.INCONCLUSIVE, probability
    return outcome(kind, probability), probability


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
