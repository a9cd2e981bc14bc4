"""The verdict rule: thresholds, too few runs, flipping with the data, combining checks."""
import numpy as np
import pytest
from fake_runs import fast_bootstrap  # noqa: F401 (a fixture)

from onpolicy_flows.experiments.results.statistics import Estimate
from onpolicy_flows.experiments.results.verdicts import (
    INSENSITIVE,
    LARGE_EFFECT,
    NO_BIG_GAIN,
    ORDERING,
    Evidence,
    Outcome,
    combine,
    judge,
    outcome,
    runs_to_decide,
)

pytestmark = pytest.mark.usefixtures("fast_bootstrap")


def _evidence(value, low, high, p_above=0.01, p_below=0.01):
    return Evidence(Estimate(value, low, high), p_above, p_below)


def test_ordering_rule():
    assert outcome(ORDERING, _evidence(0.8, 0.6, 1.0)) == Outcome.REPRODUCED
    assert outcome(ORDERING, _evidence(0.2, 0.0, 0.4)) == Outcome.NOT_REPRODUCED
    assert outcome(ORDERING, _evidence(0.6, 0.3, 0.9)) == Outcome.INCONCLUSIVE


def test_a_decisive_verdict_also_needs_the_permutation_test():
    assert outcome(ORDERING, _evidence(0.8, 0.6, 1.0, p_above=0.1)) == Outcome.INCONCLUSIVE
    assert outcome(ORDERING, _evidence(0.2, 0.0, 0.4, p_below=0.1)) == Outcome.INCONCLUSIVE
    assert outcome(NO_BIG_GAIN, _evidence(0.9, 0.75, 1.0, p_above=0.1)) == Outcome.INCONCLUSIVE


def test_three_runs_a_side_decide_only_when_every_run_of_one_side_ends_higher():
    """3 v 3: p = 1 / 20 = 0.05 with complete separation (decisive); one overlap: 0.1."""
    separated = judge(ORDERING, np.array([[4.0], [5.0], [6.0]]), np.array([[1.0], [2.0], [3.0]]))
    assert separated[0] == Outcome.REPRODUCED and separated[1].p_above == pytest.approx(0.05)
    overlapping = judge(ORDERING, np.array([[2.5], [5.0], [6.0]]),
                        np.array([[1.0], [2.0], [3.0]]))
    assert overlapping[1].p_above == pytest.approx(0.10)
    assert overlapping[0] == Outcome.INCONCLUSIVE


def test_no_big_gain_is_refuted_only_by_a_large_gain():
    assert outcome(NO_BIG_GAIN, _evidence(0.5, 0.3, LARGE_EFFECT - 0.01)) == Outcome.REPRODUCED
    assert outcome(NO_BIG_GAIN, _evidence(0.6, 0.55, 0.65)) == Outcome.REPRODUCED  # clear, small
    assert outcome(NO_BIG_GAIN, _evidence(0.9, 0.75, 1.0)) == Outcome.NOT_REPRODUCED
    assert outcome(NO_BIG_GAIN, _evidence(0.9, 0.6, 1.0)) == Outcome.INCONCLUSIVE  # large?
    assert outcome(NO_BIG_GAIN, _evidence(0.6, 0.4, 0.9)) == Outcome.INCONCLUSIVE


def test_the_verdict_flips_when_the_data_flip():
    high = np.array([[10.0], [11.0], [12.0]])
    low = np.array([[1.0], [2.0], [3.0]])
    assert judge(ORDERING, high, low)[0] == Outcome.REPRODUCED
    assert judge(ORDERING, low, high)[0] == Outcome.NOT_REPRODUCED
    assert judge(NO_BIG_GAIN, low, high)[0] == Outcome.REPRODUCED
    assert judge(NO_BIG_GAIN, high, low)[0] == Outcome.NOT_REPRODUCED


def test_fewer_than_three_runs_a_side_is_inconclusive():
    verdict, evidence = judge(ORDERING, np.array([[10.0], [11.0]]),
                              np.array([[1.0], [2.0], [3.0]]))
    assert verdict == Outcome.INCONCLUSIVE and evidence.probability.value == 1.0
    assert judge(ORDERING, np.zeros((0, 1)), np.ones((3, 1))) == (Outcome.INCONCLUSIVE, None)


def test_combining_checks():
    R, N, I, T = (Outcome.REPRODUCED, Outcome.NOT_REPRODUCED, Outcome.INCONCLUSIVE,
                  Outcome.NOT_TESTED)
    assert combine([R, R, T]) == R
    assert combine([R, I]) == I
    assert combine([R, N, I]) == N
    assert combine([T]) == combine([]) == T


def test_runs_to_decide_follow_noethers_sample_size():
    """N = (z_0.975 + z_0.8)^2 / (3 (P - 1/2)^2) in all (z_0.975: one end of the 95%
    interval): 42 at P = 0.75, so 21 a side; six tasks need a sixth; no effect, or one too
    small, cannot be decided by more seeds."""
    assert runs_to_decide(0.75) == 21 and runs_to_decide(0.25) == 21
    assert runs_to_decide(0.75, tasks=6) == 4
    assert runs_to_decide(0.9, tasks=6) == 3  # never below the rule's minimum
    assert runs_to_decide(0.65, tasks=6) == 10
    assert runs_to_decide(0.5) is None and runs_to_decide(0.55) is None


def test_runs_to_decide_a_closeness_claim_count_the_distance_to_its_own_bounds():
    """P = 0.5 decides "no big gain" (upper end below 0.71, d = 0.21: 30 a side) and
    insensitivity (inside (0.29, 0.71), the same) though no ordering; P = 0.1 decides "no
    big gain" below 0.71 (d = 0.61) and refutes insensitivity below 0.29 (d = 0.19, as
    the ordering at P = 0.69); P = 0.69 is too near the band's end (d = 0.02) to decide
    insensitivity with any number of runs worth running."""
    assert runs_to_decide(0.5, kind=NO_BIG_GAIN) == 30
    assert runs_to_decide(0.5, kind=INSENSITIVE) == 30
    assert runs_to_decide(0.1, kind=NO_BIG_GAIN) == 4
    assert runs_to_decide(0.1, kind=INSENSITIVE) == runs_to_decide(0.69) == 37
    assert runs_to_decide(0.69, kind=INSENSITIVE) is None


def test_insensitivity_rule_needs_no_large_effect_either_way():
    assert outcome(INSENSITIVE, _evidence(0.5, 0.35, 0.65)) == Outcome.REPRODUCED
    assert outcome(INSENSITIVE, _evidence(0.4, 0.2, 0.6)) == Outcome.INCONCLUSIVE  # 0.2 < 0.29
    assert outcome(INSENSITIVE, _evidence(0.6, 0.52, 0.68)) == Outcome.REPRODUCED  # clear, small
    assert outcome(INSENSITIVE, _evidence(0.1, 0.0, 0.25)) == Outcome.NOT_REPRODUCED
    assert outcome(INSENSITIVE, _evidence(0.9, 0.75, 1.0)) == Outcome.NOT_REPRODUCED
    assert outcome(INSENSITIVE, _evidence(0.1, 0.0, 0.3)) == Outcome.INCONCLUSIVE  # large?
    assert outcome(INSENSITIVE, _evidence(0.9, 0.75, 1.0, p_above=0.1)) == Outcome.INCONCLUSIVE


def test_a_run_without_a_final_return_is_refused_rather_than_ranked():
    with pytest.raises(ValueError, match="finite"):
        judge(ORDERING, np.array([[1.0], [2.0], [np.nan]]), np.array([[0.0], [0.5], [0.7]]))
