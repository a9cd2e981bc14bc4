"""The Beta policy: its density is scipy's Beta stretched onto the box, finite on the bounds,
samples stay in the box, closed-form KL and entropy match Monte-Carlo (TRPO and ACKTR
training it: test_trpo.py, test_acktr.py)."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.beta import BetaPolicy
from onpolicy_flows.policies.box import BOUNDARY_EPSILON
from onpolicy_flows.policies.factory import make_policy

OBS_DIM = 4
LOW, HIGH = np.array([-2.0, 0.0, -1.0], np.float32), np.array([2.0, 1.0, 3.0], np.float32)


def _random_beta(seed=0, weight_scale=0.7, bias=0.0):
    """A Beta policy on [LOW, HIGH] whose concentrations vary with the state (the original's
    near-zero output layer would make them all about 1.69)."""
    policy = BetaPolicy(OBS_DIM, 3, None, seed=seed, bounds=(LOW, HIGH))
    rng = np.random.default_rng(seed)
    for variable in policy.trainable_variables:
        variable.assign(weight_scale * rng.standard_normal(variable.shape).astype(np.float32))
    policy.concentration_net.output.bias.assign(
        policy.concentration_net.output.bias + bias)
    return policy


def _observations(count, seed):
    return tf.random.stateless_normal([count, OBS_DIM], seed=[seed, 0])


def _concentrations(policy, observations):
    unit = policy.unit_distribution(observations)
    return unit.concentration1.numpy(), unit.concentration0.numpy()  # [batch, act_dim] each


def test_log_prob_is_scipys_beta_density_on_the_box():
    policy = _random_beta()
    observations = _observations(8, 1)
    actions = LOW + (HIGH - LOW) * np.random.default_rng(2).uniform(size=(8, 3))
    alpha, beta = _concentrations(policy, observations)
    expected = stats.beta.logpdf(actions, alpha, beta, loc=LOW, scale=HIGH - LOW).sum(axis=1)
    log_probs = policy.log_prob(observations, actions.astype(np.float32)).numpy()
    np.testing.assert_allclose(log_probs, expected, rtol=1e-4, atol=1e-4)
    assert alpha.std() > 0.1 and beta.std() > 0.1  # the states do change the density


def test_one_dimensional_density_integrates_to_one_over_the_box():
    policy = BetaPolicy(OBS_DIM, 1, None, seed=3, bounds=(np.array([-3.0]), np.array([5.0])),
                        output_init_scale=1.0)
    grid = np.linspace(-3, 5, 40001, dtype=np.float32)[1:-1, None]
    observations = tf.fill([len(grid), OBS_DIM], 0.4)
    density = np.exp(policy.log_prob(observations, grid).numpy().astype(np.float64))
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=1e-3)


def test_actions_on_and_beyond_the_bounds_have_the_density_just_inside():
    policy = _random_beta(bias=2.0)  # concentrations above 3: the density vanishes at the bounds
    observations = tf.repeat(_observations(1, 4), 3, axis=0)
    inside = LOW + BOUNDARY_EPSILON * (HIGH - LOW)
    on_bound = policy.log_prob(observations, np.stack([LOW, LOW - 1.0, inside])).numpy()
    assert np.all(np.isfinite(on_bound))
    np.testing.assert_allclose(on_bound[:2], on_bound[2], rtol=1e-3)
    at_high = policy.log_prob(observations, np.stack([HIGH, HIGH + 5.0, HIGH])).numpy()
    assert np.all(np.isfinite(at_high))


def test_samples_stay_in_the_box_with_finite_log_probs_even_when_concentrated():
    """Concentrations 1e7 and 1.5: a quarter of the draws round onto 1 in float32, where
    the unclipped Beta log-density is -inf."""
    policy = BetaPolicy(OBS_DIM, 3, None, seed=5, bounds=(LOW, HIGH))
    softplus_inverse_of_half = np.log(np.expm1(0.5))
    policy.concentration_net.output.bias.assign([1e7] * 3 + [softplus_inverse_of_half] * 3)
    actions, log_probs = policy.sample(tf.zeros([2000, OBS_DIM]))
    actions = actions.numpy()
    assert np.all(actions >= LOW) and np.all(actions <= HIGH)
    assert np.any(actions == HIGH)  # the case the clipping is for
    assert np.all(np.isfinite(log_probs.numpy()))
    np.testing.assert_allclose(log_probs.numpy(),
                               policy.log_prob(tf.zeros([2000, OBS_DIM]), actions).numpy(),
                               rtol=1e-5)


def test_closed_form_kl_and_entropy_match_monte_carlo_and_scipy():
    old, new = _random_beta(seed=6), _random_beta(seed=7)
    observations = _observations(3, 8)
    many = tf.repeat(observations, 20000, axis=0)
    actions, log_probs = old.sample(many)
    sample_kl = Policy.kl(new, old, many, actions).numpy().reshape(3, -1).mean(axis=1)
    closed_kl = new.kl(old, observations, None).numpy()
    np.testing.assert_allclose(sample_kl, closed_kl, rtol=0.05, atol=0.01)
    assert (closed_kl > 0.05).all()
    alpha, beta = _concentrations(old, observations)
    scipy_entropy = stats.beta.entropy(alpha, beta, loc=LOW, scale=HIGH - LOW).sum(axis=1)
    np.testing.assert_allclose(old.entropy(observations).numpy(), scipy_entropy, rtol=1e-4)
    np.testing.assert_allclose(-log_probs.numpy().reshape(3, -1).mean(axis=1), scipy_entropy,
                               rtol=0.02, atol=0.02)


def test_deterministic_action_is_the_mode_and_a_policy_defaults_to_the_unit_box():
    policy = _random_beta(seed=9)
    observations = _observations(4, 10)
    alpha, beta = _concentrations(policy, observations)
    np.testing.assert_allclose(policy.deterministic_action(observations).numpy(),
                               LOW + (HIGH - LOW) * (alpha - 1) / (alpha + beta - 2),
                               rtol=1e-4, atol=1e-5)
    unit = make_policy(PolicyConfig(policy="beta"), OBS_DIM, 2, None, seed=0, name="beta")
    actions, _ = unit.sample(tf.zeros([500, OBS_DIM]))
    assert np.abs(actions.numpy()).max() <= 1.0 and actions.numpy().min() < -0.5

