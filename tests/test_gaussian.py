import numpy as np
import tensorflow as tf

from onpolicy_flows.policies import GaussianPolicy
from onpolicy_flows.policies.base import Policy


def _two_gaussians():
    old = GaussianPolicy(4, 3, None, seed=0, mean_init_scale=1.0)
    new = GaussianPolicy(4, 3, None, seed=1, mean_init_scale=1.0)
    new.log_std.assign([-0.3, 0.2, 0.1])
    return old, new


def test_analytic_kl_matches_monte_carlo():
    old, new = _two_gaussians()
    observations = tf.random.stateless_normal([3, 4], seed=[1, 2])
    many = tf.repeat(observations, 20000, axis=0)
    actions, _ = old.sample(many)
    sample_kl = Policy.kl(new, old, many, actions).numpy().reshape(3, -1).mean(axis=1)
    analytic = new.kl(old, observations, None).numpy()
    np.testing.assert_allclose(sample_kl, analytic, rtol=0.1, atol=0.01)
    assert (analytic > 0.01).all()


def test_analytic_entropy_matches_monte_carlo_and_closed_form():
    _, policy = _two_gaussians()
    observations = tf.random.stateless_normal([2, 4], seed=[3, 4])
    closed_form = 0.5 * 3 * np.log(2 * np.pi * np.e) + policy.log_std.numpy().sum()
    np.testing.assert_allclose(policy.entropy(observations).numpy(), closed_form, rtol=1e-5)
    many = tf.repeat(observations, 20000, axis=0)
    actions, log_probs = policy.sample(many)
    np.testing.assert_allclose(-log_probs.numpy().mean(), closed_form, rtol=0.02)


def test_samples_have_the_policy_mean_and_std():
    policy = GaussianPolicy(4, 2, None, seed=0, mean_init_scale=1.0)
    policy.log_std.assign([np.log(0.5), np.log(2.0)])
    observations = tf.zeros([50000, 4]) + [[0.1, -0.2, 0.3, 0.4]]
    actions, _ = policy.sample(observations)
    mean = policy.deterministic_action(observations[:1]).numpy()[0]
    np.testing.assert_allclose(actions.numpy().mean(axis=0), mean, atol=0.03)
    np.testing.assert_allclose(actions.numpy().std(axis=0), [0.5, 2.0], rtol=0.02)
