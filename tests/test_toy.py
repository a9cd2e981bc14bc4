"""Toy statistics of Figures 1 and 2 on a fixed seed: the fitting procedures reach their
targets, and what only the expressive classes can do. The bandit fits take TEST_STEPS Adam
steps instead of the figures' bandits.FIT_STEPS to keep the module fast; their statistics
are already settled by then."""
import pytest
import tensorflow as tf

from onpolicy_flows.experiments.figures import bandits, kl_ball
from onpolicy_flows.experiments.figures.spread import correlation, shares_near

TEST_STEPS = 200


def test_both_distributions_end_on_the_kl_ball_boundary():
    points, _, policies = kl_ball.kl_ball(seed=0)
    points = tf.constant(points)
    reference_log_density = kl_ball.reference_gaussian_log_density(points)
    for kind, policy in policies.items():
        kl = float(kl_ball.kl_from_reference(policy, points, reference_log_density))
        assert kl == pytest.approx(kl_ball.KL_RADIUS, rel=0.1), kind


def test_flow_learns_the_correlation_a_factorized_gaussian_cannot():
    result = bandits.solve_bandit("bandit_correlated", seed=0, kinds=("gaussian", "flow"),
                                  steps=TEST_STEPS)
    assert abs(correlation(result.samples["gaussian"])) < 0.1
    assert correlation(result.samples["flow"]) > 0.7  # the optimum's is 0.9


def test_flow_puts_a_real_share_of_samples_on_each_mode():
    result = bandits.solve_bandit("bandit_multimodal", seed=0, kinds=("flow",),
                                  steps=TEST_STEPS)
    shares = shares_near(result.samples["flow"], bandits.MODES, bandits.MODE_RADIUS)
    assert shares.min() > 0.2
