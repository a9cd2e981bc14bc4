import numpy as np
import tensorflow as tf

from onpolicy_flows.policies.gmm import GMMPolicy


def _random_gmm(num_components=3, act_dim=2, log_density="mixture"):
    policy = GMMPolicy(4, act_dim, None, seed=0, num_components=num_components,
                       log_density=log_density)
    rng = np.random.default_rng(0)
    for variable in policy.trainable_variables:
        variable.assign(0.7 * rng.standard_normal(variable.shape).astype(np.float32))
    return policy


def _numpy_mixture_log_prob(means, stds, actions):
    """means [batch, K, d], stds [K, d], actions [batch, d] -> [batch]."""
    z = (actions[:, None, :] - means) / stds
    component = (-0.5 * z ** 2 - np.log(stds) - 0.5 * np.log(2 * np.pi)).sum(-1)
    peak = component.max(axis=1, keepdims=True)
    return (peak + np.log(np.exp(component - peak).mean(axis=1, keepdims=True)))[:, 0]


def test_log_prob_is_the_equal_weight_mixture_density():
    policy = _random_gmm()
    observations = tf.random.stateless_normal([7, 4], seed=[1, 2])
    actions = tf.random.stateless_normal([7, 2], seed=[3, 4])
    means = policy._component_means(policy.features(observations)).numpy()
    stds = np.exp(policy.log_stds.numpy())
    expected = _numpy_mixture_log_prob(means, stds, actions.numpy())
    np.testing.assert_allclose(policy.log_prob(observations, actions).numpy(), expected,
                               rtol=1e-5, atol=1e-5)


def test_sampling_picks_components_uniformly():
    policy = _random_gmm(num_components=2, act_dim=1)
    policy.log_stds.assign([[-4.0], [-4.0]])  # narrow components: samples identify them
    observations = tf.zeros([20000, 4])
    means = policy._component_means(policy.features(observations[:1])).numpy()[0, :, 0]
    actions, _ = policy.sample(observations)
    nearest = np.argmin(np.abs(actions.numpy() - means[None, :]), axis=1)
    assert abs(nearest.mean() - 0.5) < 0.02


def test_deterministic_action_is_the_most_likely_component_mean():
    policy = _random_gmm(num_components=3)
    observations = tf.random.stateless_normal([5, 4], seed=[5, 6])
    means = policy._component_means(policy.features(observations)).numpy()
    chosen = policy.deterministic_action(observations).numpy()
    dist = policy.distribution(observations)
    for row in range(5):
        densities = [float(dist.log_prob(np.repeat(means[row:row + 1, k], 5, axis=0))[row])
                     for k in range(3)]
        np.testing.assert_allclose(chosen[row], means[row, int(np.argmax(densities))])


def test_the_original_log_density_is_the_mean_of_the_component_log_densities():
    """--gmm-log-density original: what the original code took for the GMM's log-density.
    It differs from the mixture's, and sampling and the deterministic action do not change."""
    mixture, original = _random_gmm(), _random_gmm(log_density="original")
    observations = tf.random.stateless_normal([7, 4], seed=[1, 2])
    actions = tf.random.stateless_normal([7, 2], seed=[3, 4])
    means = original._component_means(original.features(observations)).numpy()
    stds = np.exp(original.log_stds.numpy())
    z = (actions.numpy()[:, None, :] - means) / stds
    expected = (-0.5 * z ** 2 - np.log(stds) - 0.5 * np.log(2 * np.pi)).sum(-1).mean(axis=1)
    np.testing.assert_allclose(original.log_prob(observations, actions).numpy(), expected,
                               rtol=1e-5, atol=1e-5)
    assert np.all(expected < mixture.log_prob(observations, actions).numpy())  # Jensen
    sampled = [policy.sample(observations) for policy in (mixture, original)]
    np.testing.assert_array_equal(sampled[0][0].numpy(), sampled[1][0].numpy())
    np.testing.assert_allclose(sampled[1][1].numpy(),
                               original.log_prob(observations, sampled[1][0]).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(mixture.deterministic_action(observations).numpy(),
                                  original.deterministic_action(observations).numpy())


def _kl_curvature_along_split(policy, observations, actions):
    """Second derivative of the sample KL mean(log pi_old - log pi) [scalar] along the
    direction that moves component 0's mean by +e_0 and component 1's by -e_0."""
    biases = [policy.mean_heads[0].bias, policy.mean_heads[1].bias]
    direction = [tf.one_hot(0, policy.act_dim), -tf.one_hot(0, policy.act_dim)]
    old = tf.stop_gradient(policy.log_prob(observations, actions))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            kl = tf.reduce_mean(old - policy.log_prob(observations, actions))
        slope = sum(tf.reduce_sum(g * d) for g, d in zip(inner.gradient(kl, biases), direction))
    return float(sum(tf.reduce_sum(h * d)
                     for h, d in zip(outer.gradient(slope, biases), direction)))


def test_the_kl_is_flat_where_coinciding_mixture_components_split():
    """With its components on top of each other (as at initialisation), the mixture's KL has
    no curvature in expectation when two components move apart (-d2 log p = 1/s^2 -
    (a-m)^2/s^4, mean 0 under pi), so TRPO's step there is bounded by the damping alone; the
    original's log-density has curvature 1/s^2 = 1 there."""
    observations = tf.random.stateless_normal([4096, 4], seed=[7, 8])
    curvature = {}
    for log_density in ("mixture", "original"):
        policy = GMMPolicy(4, 2, None, seed=0, num_components=2, log_density=log_density)
        policy.mean_heads[1].kernel.assign(policy.mean_heads[0].kernel)
        actions, _ = policy.sample(observations)
        curvature[log_density] = _kl_curvature_along_split(policy, observations, actions)
    assert abs(curvature["mixture"]) < 0.1
    np.testing.assert_allclose(curvature["original"], 1.0, rtol=1e-5)
