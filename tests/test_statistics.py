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


def test_mean_band_brackets_the_mean_and_is_reproducible():
    curves = np.random.default_rng(0).normal(size=(4, 30)) + np.arange(30)
    mean, low, high = statistics.mean_band(curves)
    np.testing.assert_allclose(mean, curves.mean(axis=0))
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(high - low > 0)
    np.testing.assert_array_equal(statistics.mean_band(curves)[1], low)
