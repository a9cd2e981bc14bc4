"""The verdict rule: thresholds, too few runs, flipping with the data, combining checks."""
import numpy as np
import pytest
from fake_runs import fast_bootstrap  # noqa: F401 (a fixture)

from onpolicy_flows.experiments.results.statistics import Estimate
from onpolicy_flows.experiments.results.verdicts import (LARGE_EFFECT, NO_BIG_GAIN, ORDERING, Outcome,
                                                 combine, judge, outcome)

pytestmark = pytest.mark.usefixtures("fast_bootstrap")


def test_ordering_rule():
    assert outcome(ORDERING, Estimate(0.8, 0.6, 1.0)) == Outcome.REPRODUCED
    assert outcome(ORDERING, Estimate(0.2, 0.0, 0.4)) == Outcome.NOT_REPRODUCED
    assert outcome(ORDERING, Estimate(0.6, 0.3, 0.9)) == Outcome.INCONCLUSIVE


def test_no_big_gain_rule():
    assert outcome(NO_BIG_GAIN, Estimate(0.5, 0.3, LARGE_EFFECT - 0.01)) == Outcome.REPRODUCED
    assert outcome(NO_BIG_GAIN, Estimate(0.9, 0.6, 1.0)) == Outcome.NOT_REPRODUCED
    assert outcome(NO_BIG_GAIN, Estimate(0.6, 0.4, 0.9)) == Outcome.INCONCLUSIVE


def test_the_verdict_flips_when_the_data_flip():
    high = np.array([[10.0], [11.0], [12.0]])
    low = np.array([[1.0], [2.0], [3.0]])
    assert judge(ORDERING, high, low)[0] == Outcome.REPRODUCED
    assert judge(ORDERING, low, high)[0] == Outcome.NOT_REPRODUCED
    assert judge(NO_BIG_GAIN, low, high)[0] == Outcome.REPRODUCED
    assert judge(NO_BIG_GAIN, high, low)[0] == Outcome.NOT_REPRODUCED


def test_fewer_than_three_runs_a_side_is_inconclusive():
    verdict, probability = judge(ORDERING, np.array([[10.0], [11.0]]),
                                 np.array([[1.0], [2.0], [3.0]]))
    assert verdict == Outcome.INCONCLUSIVE and probability.value == 1.0
    assert judge(ORDERING, np.zeros((0, 1)), np.ones((3, 1))) == (Outcome.INCONCLUSIVE, None)


def test_combining_checks():
    R, N, I, T = (Outcome.REPRODUCED, Outcome.NOT_REPRODUCED, Outcome.INCONCLUSIVE,
                  Outcome.NOT_TESTED)
    assert combine([R, R, T]) == R
    assert combine([R, I]) == I
    assert combine([R, N, I]) == N
    assert combine([T]) == combine([]) == T
