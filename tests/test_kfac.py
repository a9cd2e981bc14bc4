"""K-FAC: its direction against a direct damped Kronecker solve, the eigen path against a
direct inverse, the KL clip, and a speed-up over plain SGD."""
import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.acktr.kfac import KFACOptimizer
from onpolicy_flows.common.networks import MLP, Dense, glorot_uniform

DAMPING = 1e-2


def damped_kronecker_solve(a_factor, g_factor, gradient, damping):
    """(A (x) G + damping I)^-1 vec(gradient) for gradient [in + 1, out], row-major vec."""
    fisher = np.kron(a_factor, g_factor) + damping * np.eye(a_factor.shape[0] * g_factor.shape[0])
    return np.linalg.solve(fisher, gradient.reshape(-1)).reshape(gradient.shape)


def make_layer_problem(seed=0, batch=64, in_dim=4, out_dim=3):
    rng = np.random.default_rng(seed)
    layer = Dense(in_dim, out_dim, glorot_uniform(), rng)
    x = (rng.standard_normal((batch, in_dim)) * [1.0, 3.0, 0.3, 1.0]).astype(np.float32)
    targets = rng.standard_normal((batch, out_dim)).astype(np.float32)
    noise = rng.standard_normal((batch, out_dim)).astype(np.float32)

    def losses():
        y = layer(tf.constant(x))
        loss = tf.reduce_mean(tf.reduce_sum(tf.square(y - targets), axis=1))
        sampled = tf.reduce_mean(tf.reduce_sum(tf.square(y - tf.stop_gradient(y + noise)),
                                               axis=1))
        return loss, sampled
    return layer, x, targets, noise, losses


def numpy_statistics(layer, x, targets, noise):
    """A, G and the loss gradient of [W; b], computed directly."""
    batch = len(x)
    y = x @ layer.kernel.numpy() + layer.bias.numpy()
    homogeneous = np.concatenate([x, np.ones((batch, 1))], axis=1)
    a_factor = homogeneous.T @ homogeneous / batch
    per_sample = -2.0 * noise  # batch * d(sampled loss)/dy
    g_factor = per_sample.T @ per_sample / batch
    d_y = 2.0 * (y - targets) / batch
    gradient = np.concatenate([x.T @ d_y, d_y.sum(axis=0)[None]], axis=0)
    return a_factor, g_factor, gradient


def test_direction_equals_damped_kronecker_solve_of_batch_statistics():
    layer, x, targets, noise, losses = make_layer_problem()
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias], learning_rate=0.0,
                              momentum=0.9, clip_kl=0.01, damping=DAMPING, stats_decay=0.99,
                              kfac_update=1, cold_iter=1)
    optimizer.minimize(losses)  # cold step at rate 0: statistics and eigen only
    assert int(optimizer.factor_updates.numpy()) == 1
    a_factor, g_factor, gradient = numpy_statistics(layer, x, targets, noise)
    np.testing.assert_allclose(optimizer.input_factors[0].numpy(), a_factor, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(optimizer.grad_factors[0].numpy(), g_factor, rtol=1e-4,
                               atol=1e-5)
    direction = optimizer.preconditioned([tf.constant(gradient[:-1], tf.float32),
                                          tf.constant(gradient[-1], tf.float32)])
    expected = damped_kronecker_solve(a_factor, g_factor, gradient, DAMPING)
    np.testing.assert_allclose(direction[0].numpy(), expected[:-1], rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(direction[1].numpy(), expected[-1], rtol=2e-3, atol=1e-5)


def test_eigen_path_equals_direct_inverse_and_leaves_other_variables_alone():
    rng = np.random.default_rng(1)
    layers = [Dense(3, 5, glorot_uniform(), rng), Dense(5, 2, glorot_uniform(), rng)]
    other = tf.Variable(tf.zeros([2]))
    params = [other] + [v for layer in layers for v in (layer.kernel, layer.bias)]
    optimizer = KFACOptimizer(layers, params, learning_rate=0.1, momentum=0.9, clip_kl=0.01,
                              damping=0.05, stats_decay=0.95, kfac_update=1, cold_iter=1)
    factors = []
    for index, layer in enumerate(layers):
        in_dim, out_dim = layer.kernel.shape
        pair = []
        for size, variable in ((in_dim + 1, optimizer.input_factors[index]),
                               (out_dim, optimizer.grad_factors[index])):
            root = rng.standard_normal((size, size))
            spd = root @ root.T / size + 0.1 * np.eye(size)
            variable.assign(spd.astype(np.float32))
            pair.append(spd)
        factors.append(pair)
    optimizer._update_eigen()
    gradients = [rng.standard_normal(v.shape).astype(np.float32) for v in params]
    directions = optimizer.preconditioned([tf.constant(g) for g in gradients])
    np.testing.assert_array_equal(directions[0].numpy(), gradients[0])
    for index, (a_factor, g_factor) in enumerate(factors):
        stacked = np.concatenate([gradients[1 + 2 * index], gradients[2 + 2 * index][None]])
        expected = damped_kronecker_solve(a_factor, g_factor, stacked, 0.05)
        np.testing.assert_allclose(directions[1 + 2 * index].numpy(), expected[:-1],
                                   rtol=2e-3, atol=1e-5)
        np.testing.assert_allclose(directions[2 + 2 * index].numpy(), expected[-1],
                                   rtol=2e-3, atol=1e-5)


def test_layer_called_twice_counts_all_rows_as_one_batch_like_the_original():
    """Two calls on batches of n: A averages the 2n rows; each row's pre-activation gradient
    of the (mean) sampled loss is multiplied by 2n, the concatenated row count, as the
    original's K-FAC does, so G = (2n)^2 / (2n) * sum_rows (dL/dy)(dL/dy)^T."""
    layer, x, targets, noise, _ = make_layer_problem(seed=3)
    x2 = np.flip(x, axis=0).copy() * 0.5
    noise2 = noise[::-1] * 2.0

    def losses():
        y1, y2 = layer(tf.constant(x)), layer(tf.constant(x2))
        loss = tf.reduce_mean(tf.reduce_sum(tf.square(y1 + y2 - targets), axis=1))
        sampled = tf.reduce_mean(
            tf.reduce_sum(tf.square(y1 - tf.stop_gradient(y1 + noise)), axis=1)
            + tf.reduce_sum(tf.square(y2 - tf.stop_gradient(y2 + noise2)), axis=1))
        return loss, sampled

    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias], learning_rate=0.0,
                              momentum=0.9, clip_kl=0.01, damping=DAMPING, stats_decay=0.99,
                              kfac_update=1, cold_iter=1)
    optimizer.minimize(losses)
    batch = len(x)
    rows = np.concatenate([x, x2])
    homogeneous = np.concatenate([rows, np.ones((2 * batch, 1))], axis=1)
    pre_gradients = np.concatenate([-2.0 * noise, -2.0 * noise2]) / batch  # d(sampled)/dy
    per_row = pre_gradients * 2 * batch
    np.testing.assert_allclose(optimizer.input_factors[0].numpy(),
                               homogeneous.T @ homogeneous / (2 * batch), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(optimizer.grad_factors[0].numpy(),
                               per_row.T @ per_row / (2 * batch), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("learning_rate, clipped", [(50.0, True), (1e-3, False)])
def test_kl_clip_bounds_the_quadratic_kl_of_the_step(learning_rate, clipped):
    clip_kl = 0.01
    layer, x, targets, noise, losses = make_layer_problem(seed=2)
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias],
                              learning_rate=learning_rate, momentum=0.0, clip_kl=clip_kl,
                              damping=DAMPING, stats_decay=0.99, kfac_update=1, cold_iter=1)
    optimizer.learning_rate.assign(0.0)
    optimizer.minimize(losses)  # cold step that moves nothing; factors now = this batch's
    optimizer.learning_rate.assign(learning_rate)
    before = np.concatenate([layer.kernel.numpy(), layer.bias.numpy()[None]])
    a_factor = optimizer.input_factors[0].numpy().astype(np.float64)
    g_factor = optimizer.grad_factors[0].numpy().astype(np.float64)
    _, _, gradient = numpy_statistics(layer, x, targets, noise)
    optimizer.minimize(losses)  # the same batch again: the factors do not change
    step = np.concatenate([layer.kernel.numpy(), layer.bias.numpy()[None]]) - before
    fisher = np.kron(a_factor, g_factor) + DAMPING * np.eye(step.size)
    quadratic_kl = step.reshape(-1) @ fisher @ step.reshape(-1)
    assert quadratic_kl <= clip_kl * 1.01
    unclipped_step = -learning_rate * damped_kronecker_solve(a_factor, g_factor, gradient,
                                                             DAMPING)
    if clipped:
        assert quadratic_kl == pytest.approx(clip_kl, rel=1e-2)
        assert np.abs(step).sum() < 0.5 * np.abs(unclipped_step).sum()
    else:
        np.testing.assert_allclose(step, unclipped_step, rtol=1e-2, atol=1e-7)


def _regression_steps_to_threshold(precondition: bool, max_steps: int = 300) -> int:
    """Steps of a 2-layer tanh net fitting a teacher on badly scaled inputs until the loss
    falls below 5% of its initial value (max_steps + 1 if never)."""
    rng = np.random.default_rng(3)
    scales = np.array([5.0, 2.0, 1.0, 0.3, 0.1], np.float32)
    x = tf.constant(rng.standard_normal((256, 5)).astype(np.float32) * scales)
    teacher = rng.standard_normal((5, 1)).astype(np.float32) / scales[:, None]
    y = tf.constant(np.tanh(x.numpy() @ teacher))
    net = MLP(5, (16,), 1, tf.tanh, np.random.default_rng(4), hidden_init=glorot_uniform(),
              output_init=glorot_uniform())
    layers = [net.hidden[0], net.output] if precondition else []
    optimizer = KFACOptimizer(layers, net.trainable_variables, learning_rate=0.05,
                              momentum=0.9, clip_kl=1e6, damping=1e-3, stats_decay=0.95,
                              kfac_update=1, cold_iter=1)
    noise = tf.random.Generator.from_seed(5)

    def losses():
        prediction = net(x)
        loss = tf.reduce_mean(tf.square(prediction - y))
        sample = tf.stop_gradient(prediction + noise.normal(tf.shape(prediction)))
        return loss, tf.reduce_mean(tf.square(prediction - sample))

    step = tf.function(lambda: optimizer.minimize(losses)["loss"])
    initial = float(step())
    for count in range(1, max_steps + 1):
        if float(step()) < 0.05 * initial:
            return count
    return max_steps + 1


def test_kfac_reaches_low_loss_in_fewer_steps_than_sgd_at_equal_learning_rate():
    kfac_steps = _regression_steps_to_threshold(precondition=True)
    sgd_steps = _regression_steps_to_threshold(precondition=False)
    assert kfac_steps <= 300
    assert kfac_steps * 2 < sgd_steps
