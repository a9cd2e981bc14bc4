"""rliable-backed statistics on scores with known answers."""
import numpy as np
import pytest
from fake_runs import fast_bootstrap  # noqa: F401 (a fixture)

from onpolicy_flows.experiments.results import statistics

pytestmark = pytest.mark.usefixtures("fast_bootstrap")


def test_mean_and_interquartile_mean_with_intervals():
    mean, iqm = statistics.final_estimates(np.array([1.0, 2.0, 3.0, 10.0]))
    assert (mean.value, iqm.value) == (4.0, 2.5)  # IQM drops the lowest and highest quarter
    assert mean.low <= 4.0 <= mean.high and mean.low >= 1.0 and mean.high <= 10.0
    single, _ = statistics.final_estimates(np.array([5.0]))
    assert (single.value, single.low, single.high) == (5.0, 5.0, 5.0)


def test_probability_of_improvement():
    better, worse = np.array([[3.0], [4.0], [5.0]]), np.array([[0.0], [1.0], [2.0]])
    certain = statistics.probability_of_improvement(better, worse)
    assert (certain.value, certain.low, certain.high) == (1.0, 1.0, 1.0)
    assert statistics.probability_of_improvement(worse, better).value == 0.0
    mixed = statistics.probability_of_improvement(np.array([[3.0], [1.0], [5.0]]),
                                                  np.array([[1.0], [2.0], [4.0]]))
    assert mixed.value == 5.5 / 9 and mixed.low < 0.5 < mixed.high  # the tie 1 = 1 counts half


def test_share_of_pairs_above_is_rliables_statistic():
    """The one-pass P(X > Y) equals rliable's Mann-Whitney one, ties (rounded scores) and
    unequal run counts included, on one task and averaged over several."""
    from rliable import metrics
    rng = np.random.default_rng(0)
    for runs_x, runs_y, tasks in ((3, 3, 1), (5, 2, 6), (4, 7, 3), (1, 1, 2)):
        x = np.round(rng.normal(size=(runs_x, tasks)), 1)
        y = np.round(rng.normal(0.3, size=(runs_y, tasks)), 1)
        for a, b in ((x, y), (y, x), (x, x)):
            assert statistics.share_of_pairs_above(a, b) == pytest.approx(
                metrics.probability_of_improvement(a, b), abs=1e-12)


def test_mean_band_brackets_the_mean_and_is_reproducible():
    curves = np.random.default_rng(0).normal(size=(4, 30)) + np.arange(30)
    mean, low, high = statistics.mean_band(curves)
    np.testing.assert_allclose(mean, curves.mean(axis=0))
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(high - low > 0)
    np.testing.assert_array_equal(statistics.mean_band(curves)[1], low)


def _brute_force_p(better, worse):
    """The share of all relabelings (within each task) whose P(A > B) is at least the
    observed one, enumerated jointly over tasks."""
    import itertools
    pooled = np.concatenate([better, worse])
    runs_a, (total, tasks) = len(better), pooled.shape

    def improvement(a, b):
        return np.mean([np.mean((a[:, None, t] > b[None, :, t]) + 0.5 *
                                (a[:, None, t] == b[None, :, t])) for t in range(tasks)])
    observed = improvement(better, worse)
    per_task = list(itertools.combinations(range(total), runs_a))
    hits = 0
    for labels in itertools.product(per_task, repeat=tasks):
        a = np.stack([pooled[list(chosen), t] for t, chosen in enumerate(labels)], axis=1)
        b = np.stack([np.delete(pooled[:, t], list(chosen)) for t, chosen in
                      enumerate(labels)], axis=1)
        hits += improvement(a, b) >= observed - 1e-12
    return hits / len(per_task) ** tasks


def test_permutation_p_value_is_the_exact_share_of_relabelings():
    rng = np.random.default_rng(3)
    better = np.round(rng.normal(0.5, 1.0, size=(3, 2)), 1)  # rounded: some ties
    worse = np.round(rng.normal(0.0, 1.0, size=(2, 2)), 1)
    worse[0, 0] = better[1, 0]
    assert statistics.permutation_p_value(better, worse) == pytest.approx(
        _brute_force_p(better, worse))
    separated = statistics.permutation_p_value(np.array([[3.0], [4.0], [5.0]]),
                                               np.array([[0.0], [1.0], [2.0]]))
    assert separated == pytest.approx(1 / 20)  # 1 / C(6, 3)
    five = statistics.permutation_p_value(np.arange(5, 10.0)[:, None], np.arange(5.0)[:, None])
    assert five == pytest.approx(1 / 252)
    assert statistics.permutation_p_value(np.zeros((3, 1)), np.zeros((3, 1))) == 1.0


def test_many_runs_a_side_sample_the_relabelings_and_agree_with_the_exact_test(monkeypatch):
    """10 v 10 on one task, overlapping: the sampled p (100,000 relabelings) is within
    sampling error of the exact one over all 184,756; 30 v 30 (Figure 6's draws), fully
    separated, is decided quickly at p = 1 / 100,001."""
    rng = np.random.default_rng(5)
    better, worse = rng.normal(0.8, 1.0, size=(10, 1)), rng.normal(0.0, 1.0, size=(10, 1))
    sampled = statistics.permutation_p_value(better, worse)
    monkeypatch.setattr(statistics, "MAX_EXACT_LABELINGS", 200_000)
    exact = statistics.permutation_p_value(better, worse)
    assert 0.001 < exact < 0.5 and abs(sampled - exact) < 4 * np.sqrt(exact / 100_000)
    monkeypatch.setattr(statistics, "MAX_EXACT_LABELINGS", 100_000)
    separated = statistics.permutation_p_value(np.arange(30, 60.0)[:, None],
                                               np.arange(30.0)[:, None])
    assert separated == pytest.approx(1 / 100_001)
