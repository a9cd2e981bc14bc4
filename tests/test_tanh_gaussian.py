"""The tanh-squashed Gaussian policy: change of variables against a numerical Jacobian, a density
that integrates to one over the box and is finite on its bounds, the Gaussian's log-std, KL
and entropy against closed forms and Monte-Carlo (TRPO and ACKTR training it: test_trpo.py,
test_acktr.py)."""

import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.box import BOUNDARY_EPSILON
from onpolicy_flows.policies.gaussian import GaussianPolicy
from onpolicy_flows.policies.tanh_gaussian import TanhGaussianPolicy

OBS_DIM = 4
LOW, HIGH = np.array([-2.0, 0.0, -1.0], np.float32), np.array([2.0, 1.0, 3.0], np.float32)


def _random_policy(seed=0, log_std=(-0.3, 0.2, 0.0), bounds=(LOW, HIGH)):
    policy = TanhGaussianPolicy(OBS_DIM, len(log_std), None, seed=seed, bounds=bounds,
                                mean_init_scale=1.0)
    policy.log_std.assign(log_std)
    return policy


def _observations(count, seed):
    return tf.random.stateless_normal([count, OBS_DIM], seed=[seed, 1])


def _normal_log_density(x, mean, std):
    return np.sum(-0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi), -1)


def test_log_prob_is_the_gaussian_density_minus_the_numerical_log_det_of_the_squashing():
    policy = _random_policy()
    observations = _observations(6, 2)
    features = policy.features(observations)
    mean = policy.mean_net(features).numpy()
    std = np.exp(policy.log_std.numpy())
    x = tf.constant(mean + std * np.random.default_rng(3).standard_normal(mean.shape),
                    tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        actions = policy.squash.forward(x)
    jacobian = tape.batch_jacobian(actions, x).numpy().astype(np.float64)  # [6, 3, 3]
    _, log_abs_det = np.linalg.slogdet(jacobian)
    expected = _normal_log_density(x.numpy(), mean, std) - log_abs_det
    log_probs = policy.log_prob(observations, tf.constant(actions.numpy())).numpy()
    np.testing.assert_allclose(log_probs, expected, rtol=1e-4, atol=1e-3)


def test_one_dimensional_density_integrates_to_one_and_its_entropy_estimate_matches():
    policy = _random_policy(seed=4, log_std=(0.3,), bounds=(np.array([-3.0]), np.array([5.0])))
    grid = np.linspace(-3, 5, 80001, dtype=np.float32)[1:-1, None]
    observations = tf.fill([len(grid), OBS_DIM], -0.2)
    log_density = policy.log_prob(observations, grid).numpy().astype(np.float64)
    density = np.exp(log_density)
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=2e-3)
    grid_entropy = -np.trapezoid(density * log_density, grid[:, 0])
    estimate = policy.entropy(tf.fill([4000, OBS_DIM], -0.2)).numpy().mean()
    assert estimate == pytest.approx(grid_entropy, abs=0.02)


def test_actions_on_and_beyond_the_bounds_have_the_density_just_inside():
    policy = _random_policy(seed=5)
    observations = tf.repeat(_observations(1, 6), 3, axis=0)
    inside = HIGH - BOUNDARY_EPSILON * (HIGH - LOW) / 2
    log_probs = policy.log_prob(observations, np.stack([HIGH, HIGH + 1.0, inside])).numpy()
    assert np.all(np.isfinite(log_probs))
    np.testing.assert_allclose(log_probs[:2], log_probs[2], rtol=1e-3)
    assert np.isfinite(policy.log_prob(observations[:1], LOW[None]).numpy()).all()


def test_saturated_samples_stay_in_the_box_with_finite_log_probs():
    policy = _random_policy(seed=7)
    policy.mean_net.output.bias.assign([40.0, -40.0, 40.0])  # tanh rounds to +-1 in float32
    observations = tf.zeros([500, OBS_DIM])
    actions, log_probs = policy.sample(observations)
    assert np.all(actions.numpy() >= LOW) and np.all(actions.numpy() <= HIGH)
    assert np.any(actions.numpy() == HIGH)
    assert np.all(np.isfinite(log_probs.numpy()))
    assert np.all(np.isfinite(policy.log_prob(observations, actions.numpy()).numpy()))


def test_it_is_the_gaussian_policy_with_its_log_std_and_the_squashed_mean():
    policy, gaussian = _random_policy(seed=8), GaussianPolicy(OBS_DIM, 3, None, seed=8,
                                                                mean_init_scale=1.0)
    assert [v.shape for v in policy.trainable_variables] == \
        [v.shape for v in gaussian.trainable_variables]
    assert policy.log_std.shape == [3]
    observations = _observations(5, 9)
    features = policy.features(observations)
    np.testing.assert_allclose(policy.gaussian(features).distribution.stddev().numpy()[0],
                               np.exp(policy.log_std.numpy()), rtol=1e-6)
    mean = policy.mean_net(features).numpy()
    np.testing.assert_allclose(policy.deterministic_action(observations).numpy(),
                               LOW + (HIGH - LOW) * (np.tanh(mean) + 1) / 2, rtol=1e-5,
                               atol=1e-6)


def test_closed_form_kl_and_sample_entropy_match_monte_carlo():
    old, new = _random_policy(seed=10), _random_policy(seed=11, log_std=(0.1, -0.2, 0.3))
    observations = _observations(3, 12)
    many = tf.repeat(observations, 20000, axis=0)
    actions, _ = old.sample(many)
    sample_kl = Policy.kl(new, old, many, actions).numpy().reshape(3, -1).mean(axis=1)
    closed_kl = new.kl(old, observations, None).numpy()
    np.testing.assert_allclose(sample_kl, closed_kl, rtol=0.05, atol=0.01)
    assert (closed_kl > 0.05).all()
    # H = H(Gaussian) + E[sum_i log((high_i - low_i) / 2 * (1 - tanh(x_i)^2))]
    features = old.features(many)
    x = old.gaussian(features).sample(seed=[13, 14]).numpy().astype(np.float64)
    log_scale = np.log((HIGH - LOW) / 2 * (1 - np.tanh(x) ** 2)).sum(axis=1)
    gaussian_entropy = old.gaussian(features).entropy().numpy()
    expected = (gaussian_entropy + log_scale).reshape(3, -1).mean(axis=1)
    estimate = old.entropy(many).numpy().reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(estimate, expected, atol=0.02)

