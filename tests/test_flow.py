"""The flow policy is a valid, invertible density whose log_prob matches change of variables."""
import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.policies.flow import FlowPolicy

OBS_DIM = 5


def _random_flow(act_dim, weight_scale=0.4, seed=0, num_layers=2):
    """A flow whose weights are redrawn large enough that every coupling and the state shift
    really transform their input (the original's init is close to the identity)."""
    policy = FlowPolicy(OBS_DIM, act_dim, None, seed=seed, num_layers=num_layers, num_units=3)
    rng = np.random.default_rng(seed)
    for variable in policy.trainable_variables:
        variable.assign(weight_scale * rng.standard_normal(variable.shape).astype(np.float32))
    return policy


@pytest.mark.parametrize("act_dim", [1, 2, 3, 17])
def test_log_prob_equals_base_density_minus_numerical_log_det(act_dim):
    policy = _random_flow(act_dim)
    observations = tf.random.stateless_normal([6, OBS_DIM], seed=[act_dim, 1])
    noise = tf.random.stateless_normal([6, act_dim], seed=[act_dim, 2])
    with tf.GradientTape() as tape:
        tape.watch(noise)
        actions = policy.bijector(observations).forward(noise)
    jacobian = tape.batch_jacobian(actions, noise)  # [6, act_dim, act_dim]
    _, log_abs_det = np.linalg.slogdet(jacobian.numpy().astype(np.float64))
    base = -0.5 * np.sum(noise.numpy() ** 2, axis=1) - 0.5 * act_dim * np.log(2 * np.pi)
    log_prob = policy.log_prob(observations, tf.constant(actions.numpy()))
    np.testing.assert_allclose(log_prob.numpy(), base - log_abs_det, rtol=1e-4, atol=1e-4)
    assert np.abs(log_abs_det).max() > 0.01  # the couplings do change volume


@pytest.mark.parametrize("act_dim", [1, 2, 17])
def test_inverse_of_forward_returns_the_noise(act_dim):
    policy = _random_flow(act_dim)
    observations = tf.random.stateless_normal([8, OBS_DIM], seed=[3, act_dim])
    noise = tf.random.stateless_normal([8, act_dim], seed=[4, act_dim])
    actions = policy.bijector(observations).forward(noise)
    recovered = policy.bijector(observations).inverse(tf.constant(actions.numpy()))
    np.testing.assert_allclose(recovered.numpy(), noise.numpy(), atol=1e-4)


def test_state_shift_makes_the_density_depend_on_the_state():
    policy = _random_flow(2)
    actions = tf.zeros([2, 2])
    observations = tf.constant([[0.0] * OBS_DIM, [1.0] * OBS_DIM])
    log_probs = policy.log_prob(observations, actions).numpy()
    assert abs(log_probs[0] - log_probs[1]) > 1e-3


def test_one_dimensional_flow_integrates_to_one():
    policy = _random_flow(1, weight_scale=0.6)
    grid = np.linspace(-40, 40, 40001, dtype=np.float32)[:, None]
    observations = tf.constant(np.full((len(grid), OBS_DIM), 0.3, np.float32))
    density = np.exp(policy.log_prob(observations, grid).numpy().astype(np.float64))
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=2e-3)


def test_two_dimensional_flow_with_state_shift_integrates_to_one():
    policy = _random_flow(2, weight_scale=0.5, seed=1)
    axis = np.linspace(-15, 15, 601, dtype=np.float32)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    observations = tf.constant(np.full((len(grid), OBS_DIM), -0.7, np.float32))
    density = np.exp(policy.log_prob(observations, grid).numpy().astype(np.float64))
    cell = (axis[1] - axis[0]) ** 2
    assert density.sum() * cell == pytest.approx(1.0, abs=1e-2)


def test_entropy_gradient_equals_the_gradient_through_a_fresh_inverse():
    """The entropy estimate evaluates log_prob at the samples it drew (TFP's bijector cache
    reuses the noise); by change of variables that has the same value and gradient as
    inverting a copy of the samples through the chain."""
    policy = _random_flow(3)
    observations = tf.random.stateless_normal([4, OBS_DIM], seed=[5, 6])
    policy.noise.reset_from_seed(7)
    with tf.GradientTape() as tape:
        entropy = tf.reduce_mean(policy.entropy(observations))
    cached = tape.gradient(entropy, policy.trainable_variables,
                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
    policy.noise.reset_from_seed(7)
    with tf.GradientTape() as tape:
        dist = policy.distribution(observations)
        samples = dist.sample(10, seed=policy.next_seed())
        copied = tf.identity(samples) + 0.0
        fresh = -tf.reduce_mean(policy.distribution(observations).log_prob(copied))
    uncached = tape.gradient(fresh, policy.trainable_variables,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_allclose(float(entropy), float(fresh), rtol=1e-4)
    for a, b in zip(cached, uncached):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-5)


def test_sampled_log_prob_matches_log_prob_of_the_same_actions():
    policy = _random_flow(4)
    observations = tf.random.stateless_normal([16, OBS_DIM], seed=[8, 9])
    actions, log_probs = policy.sample(observations)
    recomputed = policy.log_prob(observations, tf.constant(actions.numpy()))
    np.testing.assert_allclose(log_probs.numpy(), recomputed.numpy(), rtol=1e-4, atol=1e-4)


def test_num_layers_counts_coupling_pairs():
    policy = FlowPolicy(OBS_DIM, 3, None, seed=0, num_layers=4)
    assert len(policy.masks) == 8
    np.testing.assert_array_equal(policy.masks[0], [1, 1, 0])
    np.testing.assert_array_equal(policy.masks[1], [0, 0, 1])


def test_deterministic_action_is_zero_noise_through_the_chain():
    policy = _random_flow(3)
    observations = tf.random.stateless_normal([4, OBS_DIM], seed=[10, 11])
    expected = policy.bijector(observations).forward(tf.zeros([4, 3]))
    np.testing.assert_allclose(policy.deterministic_action(observations).numpy(),
                               expected.numpy())


def test_log_prob_after_a_weight_change_in_one_compiled_function_is_fresh():
    """TFP shares its bijector cache between bijectors with equal parameters; the flow's
    couplings opt out, or the second log-density below would reuse the first's values."""
    policy = _random_flow(2)
    observations = tf.random.stateless_normal([5, OBS_DIM], seed=[12, 13])
    actions = tf.random.stateless_normal([5, 2], seed=[14, 15])

    @tf.function
    def before_and_after_a_step():
        before = policy.log_prob(observations, actions)
        for variable in policy.trainable_variables:
            variable.assign_add(0.05 * tf.ones_like(variable))
        return before, policy.log_prob(observations, actions)

    before, after = before_and_after_a_step()
    np.testing.assert_allclose(after.numpy(), policy.log_prob(observations, actions).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert np.abs(after.numpy() - before.numpy()).max() > 1e-2


def _scale_net_calls(policy, observations, actions):
    """(log-density [batch], number of scale-net evaluations) of one `log_prob`."""
    counts = []
    nets = policy.scale_nets
    policy.scale_nets = [lambda x, net=net: counts.append(1) or net(x) for net in nets]
    try:
        log_probs = policy.log_prob(observations, actions)
    finally:
        policy.scale_nets = nets
    return log_probs.numpy(), len(counts)


def test_log_prob_runs_each_scale_net_once_and_twice_for_kfac_like_the_original():
    """The inverse and its log-determinant share one evaluation of the scale net, except in
    K-FAC's statistics pass, which reads the original's graph (two calls per coupling)."""
    from onpolicy_flows.common.networks import record_calls
    policy = _random_flow(3)
    observations = tf.random.stateless_normal([6, OBS_DIM], seed=[16, 17])
    actions = tf.random.stateless_normal([6, 3], seed=[18, 19])
    shared, calls = _scale_net_calls(policy, observations, actions)
    assert calls == len(policy.masks)
    with record_calls() as recorded:
        separate, calls = _scale_net_calls(policy, observations, actions)
    assert calls == 2 * len(policy.masks)
    scale_layers = {id(layer) for net in policy.scale_nets for layer in net.hidden}
    assert sum(id(call.owner) in scale_layers for call in recorded) == 2 * calls
    np.testing.assert_allclose(shared, separate, rtol=1e-6, atol=1e-6)
