import numpy as np
import pytest

from onpolicy_flows.common.advantages import explained_variance, gae


def test_gae_by_hand_with_a_termination_and_a_truncation():
    """Steps 0-1: an episode that terminates at 1. Steps 2-3: an episode truncated at 3 (time
    limit): it still bootstraps from the value of its final observation. Step 4: the segment
    ends mid-episode and bootstraps from the next observation's value."""
    gamma, lam = 0.9, 0.8
    rewards = np.ones(5)
    values = np.array([0.5, 0.4, 0.3, 0.2, 0.1])
    next_values = np.array([0.4, 9.0, 0.2, 0.7, 0.6])  # 9.0 must be ignored (terminal)
    terminated = np.array([False, True, False, False, False])
    episode_ends = np.array([False, True, False, True, False])
    advantages = gae(rewards, values, next_values, terminated, episode_ends, gamma, lam)
    deltas = [1 + 0.9 * 0.4 - 0.5, 1 - 0.4, 1 + 0.9 * 0.2 - 0.3, 1 + 0.9 * 0.7 - 0.2,
              1 + 0.9 * 0.6 - 0.1]
    expected = [deltas[0] + 0.72 * deltas[1], deltas[1], deltas[2] + 0.72 * deltas[3],
                deltas[3], deltas[4]]
    np.testing.assert_allclose(advantages, expected)
    np.testing.assert_allclose(advantages, [1.292, 0.6, 1.9096, 1.43, 1.44])


def test_gae_with_lambda_one_gives_discounted_returns_minus_values():
    rng = np.random.default_rng(0)
    rewards = rng.standard_normal(6)
    values = rng.standard_normal(6)
    terminated = np.zeros(6, bool)
    terminated[-1] = True
    advantages = gae(rewards, values, np.r_[values[1:], 0.0], terminated, terminated, 0.95, 1.0)
    returns = [sum(0.95 ** k * r for k, r in enumerate(rewards[t:])) for t in range(6)]
    np.testing.assert_allclose(advantages + values, returns)


def test_explained_variance():
    targets = np.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(targets, targets) == pytest.approx(1.0)
    assert explained_variance(np.full(4, targets.mean()), targets) == pytest.approx(0.0)
    assert np.isnan(explained_variance(targets, np.ones(4)))


def test_gae_over_several_environments_equals_gae_of_each():
    """Leading axes are independent environments: no advantage leaks from one env's stream
    into another's."""
    rng = np.random.default_rng(1)
    shape = (3, 7)
    rewards, values, next_values = (rng.standard_normal(shape) for _ in range(3))
    terminated = rng.random(shape) < 0.2
    episode_ends = terminated | (rng.random(shape) < 0.2)
    together = gae(rewards, values, next_values, terminated, episode_ends, 0.99, 0.95)
    for env in range(3):
        alone = gae(rewards[env], values[env], next_values[env], terminated[env],
                    episode_ends[env], 0.99, 0.95)
        np.testing.assert_array_equal(together[env], alone)
