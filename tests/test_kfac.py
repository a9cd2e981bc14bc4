"""K-FAC: its direction against a direct damped Kronecker solve, the eigen path against a
direct inverse, the blocks of parameters outside Dense layers, the state it carries between
steps, the KL clip, and a speed-up over plain SGD."""
import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.acktr.kfac import KFACOptimizer
from onpolicy_flows.common.networks import MLP, Dense, LayerNorm, glorot_uniform, recorded_exp

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
    optimizer.minimize(losses)  # cold steps at rate 0: the statistics of this batch, then
    optimizer.minimize(losses)  # their decomposition (and the same statistics again)
    assert int(optimizer.factor_updates.numpy()) == 1
    a_factor, g_factor, gradient = numpy_statistics(layer, x, targets, noise)
    np.testing.assert_allclose(optimizer.input_blocks[0].factor.numpy(), a_factor, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(optimizer.grad_blocks[0].factor.numpy(), g_factor, rtol=1e-4,
                               atol=1e-5)
    direction = optimizer.preconditioned([tf.constant(gradient[:-1], tf.float32),
                                          tf.constant(gradient[-1], tf.float32)])
    expected = damped_kronecker_solve(a_factor, g_factor, gradient, DAMPING)
    np.testing.assert_allclose(direction[0].numpy(), expected[:-1], rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(direction[1].numpy(), expected[-1], rtol=2e-3, atol=1e-5)


def _random_spd(rng, size):
    root = rng.standard_normal((size, size))
    return root @ root.T / size + 0.1 * np.eye(size)


@pytest.mark.parametrize("weight_decay_damping", [0.0, 0.02])
def test_eigen_path_equals_direct_inverse_for_every_block(weight_decay_damping):
    """Dense layers: the damped Kronecker solve, their damping raised by the weight decay's
    coefficient as in the original; a variable outside them: (F + damping)^-1 g with its own
    block F."""
    rng = np.random.default_rng(1)
    layers = [Dense(3, 5, glorot_uniform(), rng), Dense(5, 2, glorot_uniform(), rng)]
    other = tf.Variable(tf.zeros([4]))
    params = [other] + [v for layer in layers for v in (layer.kernel, layer.bias)]
    optimizer = KFACOptimizer(layers, params, learning_rate=0.1, momentum=0.9, clip_kl=0.01,
                              damping=0.05, stats_decay=0.95, kfac_update=1, cold_iter=1,
                              weight_decay_damping=weight_decay_damping)
    factors = []
    for index, layer in enumerate(layers):
        in_dim, out_dim = layer.kernel.shape
        pair = [_random_spd(rng, in_dim + 1), _random_spd(rng, out_dim)]
        optimizer.input_blocks[index].factor.assign(pair[0].astype(np.float32))
        optimizer.grad_blocks[index].factor.assign(pair[1].astype(np.float32))
        factors.append(pair)
    other_factor = _random_spd(rng, 4)
    optimizer.vector_blocks[0].factor.assign(other_factor.astype(np.float32))
    optimizer._update_eigen()
    gradients = [rng.standard_normal(v.shape).astype(np.float32) for v in params]
    directions = optimizer.preconditioned([tf.constant(g) for g in gradients])
    np.testing.assert_allclose(
        directions[0].numpy(),
        np.linalg.solve(other_factor + 0.05 * np.eye(4), gradients[0]), rtol=2e-3, atol=1e-5)
    for index, (a_factor, g_factor) in enumerate(factors):
        stacked = np.concatenate([gradients[1 + 2 * index], gradients[2 + 2 * index][None]])
        expected = damped_kronecker_solve(a_factor, g_factor, stacked,
                                          0.05 + weight_decay_damping)
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
    np.testing.assert_allclose(optimizer.input_blocks[0].factor.numpy(),
                               homogeneous.T @ homogeneous / (2 * batch), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(optimizer.grad_blocks[0].factor.numpy(),
                               per_row.T @ per_row / (2 * batch), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("learning_rate, clipped", [(50.0, True), (1e-3, False)])
def test_kl_clip_bounds_the_quadratic_kl_of_the_step(learning_rate, clipped):
    clip_kl = 0.01
    layer, x, targets, noise, losses = make_layer_problem(seed=2)
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias],
                              learning_rate=learning_rate, momentum=0.0, clip_kl=clip_kl,
                              damping=DAMPING, stats_decay=0.99, kfac_update=1, cold_iter=1)
    optimizer.learning_rate.assign(0.0)
    for _ in range(2):  # the cold steps (updates 0 and 1 = cold_iter) at rate 0: no move;
        optimizer.minimize(losses)  # the factors are now this batch's
    optimizer.learning_rate.assign(learning_rate)
    before = np.concatenate([layer.kernel.numpy(), layer.bias.numpy()[None]])
    a_factor = optimizer.input_blocks[0].factor.numpy().astype(np.float64)
    g_factor = optimizer.grad_blocks[0].factor.numpy().astype(np.float64)
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
    # without preconditioning: the optimizer's own cold phase (momentum SGD), for ever
    optimizer = KFACOptimizer([net.hidden[0], net.output], net.trainable_variables,
                              learning_rate=0.05, momentum=0.9, clip_kl=1e6, damping=1e-3,
                              stats_decay=0.95, kfac_update=1,
                              cold_iter=1 if precondition else 10 ** 9)
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


# -- parameters outside Dense layers: the original's block approximation -------------------

def test_layer_norm_used_twice_gets_a_block_from_all_rows_of_both_calls():
    """A LayerNorm called on two batches of n: its scale's rows are 2n * dL_sampled/dy times
    the normalised input, its offset's rows 2n * dL_sampled/dy; F = rows^T rows / 2n, and
    the step direction is (F + damping I)^-1 g, as numpy computes them."""
    rng = np.random.default_rng(6)
    norm = LayerNorm(3)
    norm.scale.assign(rng.uniform(0.5, 1.5, 3).astype(np.float32))
    norm.offset.assign(rng.standard_normal(3).astype(np.float32))
    n = 16
    x1, x2 = (rng.standard_normal((n, 3)).astype(np.float32) for _ in range(2))
    noise1, noise2 = (rng.standard_normal((n, 3)).astype(np.float32) for _ in range(2))
    targets = rng.standard_normal((n, 3)).astype(np.float32)

    def losses():
        y1, y2 = norm(tf.constant(x1)), norm(tf.constant(x2))
        loss = tf.reduce_mean(tf.reduce_sum(tf.square(y1 * y2 - targets), axis=1))
        sampled = tf.reduce_mean(
            tf.reduce_sum(tf.square(y1 - tf.stop_gradient(y1 + noise1)), axis=1)
            + tf.reduce_sum(tf.square(y2 - tf.stop_gradient(y2 + noise2)), axis=1))
        return loss, sampled

    optimizer = KFACOptimizer([], [norm.scale, norm.offset], learning_rate=0.0, momentum=0.9,
                              clip_kl=1e6, damping=DAMPING, stats_decay=0.99, kfac_update=1,
                              cold_iter=1)
    for _ in range(2):  # this batch's statistics; the second update decomposes them
        optimizer.minimize(losses)

    def normalised(x):
        centered = x - x.mean(axis=1, keepdims=True)
        return centered / np.sqrt((centered ** 2).mean(axis=1, keepdims=True) + 1e-12)

    output_rows = np.concatenate([-2.0 * noise1, -2.0 * noise2]) / n * (2 * n)
    scale_rows = output_rows * np.concatenate([normalised(x1), normalised(x2)])
    expected = [scale_rows.T @ scale_rows / (2 * n), output_rows.T @ output_rows / (2 * n)]
    for block, factor in zip(optimizer.vector_blocks, expected):
        np.testing.assert_allclose(block.factor.numpy(), factor, rtol=1e-4, atol=1e-4)
    gradient = [rng.standard_normal(3).astype(np.float32) for _ in range(2)]
    directions = optimizer.preconditioned([tf.constant(g) for g in gradient])
    for direction, factor, g in zip(directions, expected, gradient):
        np.testing.assert_allclose(direction.numpy(),
                                   np.linalg.solve(factor + DAMPING * np.eye(3), g),
                                   rtol=2e-3, atol=1e-4)


def test_log_std_block_is_the_outer_product_of_the_batch_summed_std_gradient():
    """As the original reads the log-std at the Tile that broadcasts std = exp(log_std): one
    row, the gradient of the mean sampled loss with respect to the std; F = g g^T."""
    rng = np.random.default_rng(7)
    log_std = tf.Variable(np.array([0.3, -0.2], np.float32))
    means = rng.standard_normal((32, 2)).astype(np.float32)
    actions = (means + rng.standard_normal((32, 2))).astype(np.float32)
    advantages = rng.standard_normal(32).astype(np.float32)

    def losses():
        std = recorded_exp(log_std)
        log_probs = -tf.reduce_sum(tf.math.log(std) + 0.5 * tf.square((actions - means) / std),
                                   axis=1)
        return -tf.reduce_mean(advantages * log_probs), -tf.reduce_mean(log_probs)

    optimizer = KFACOptimizer([], [log_std], learning_rate=0.0, momentum=0.9, clip_kl=1e6,
                              damping=DAMPING, stats_decay=0.99, kfac_update=1, cold_iter=1)
    for _ in range(2):  # this batch's statistics; the second update decomposes them
        optimizer.minimize(losses)
    std = np.exp(log_std.numpy())
    std_gradient = np.mean(1.0 / std - (actions - means) ** 2 / std ** 3, axis=0)
    np.testing.assert_allclose(optimizer.vector_blocks[0].factor.numpy(),
                               np.outer(std_gradient, std_gradient), rtol=1e-4, atol=1e-6)
    gradient = np.array([0.4, -0.1], np.float32)
    direction = optimizer.preconditioned([tf.constant(gradient)])[0].numpy()
    fisher = np.outer(std_gradient, std_gradient)
    values, vectors = np.linalg.eigh(fisher)
    values[values <= 1e-6] = 0.0  # the eigenvalue floor
    expected = vectors @ ((vectors.T @ gradient) / (values + DAMPING))
    np.testing.assert_allclose(direction, expected, rtol=2e-3)
    # ~1/damping = 100x a plain gradient step orthogonally to the std gradient
    assert np.linalg.norm(direction) > 20 * np.linalg.norm(gradient)


def test_a_parameter_read_outside_recorded_calls_is_refused():
    variable = tf.Variable([1.0, 2.0])
    optimizer = KFACOptimizer([], [variable], learning_rate=0.1, momentum=0.9, clip_kl=0.01,
                              damping=DAMPING, stats_decay=0.99, kfac_update=1, cold_iter=1)
    with pytest.raises(ValueError, match="no curvature statistics"):
        optimizer.minimize(lambda: (tf.reduce_sum(variable ** 2), tf.reduce_sum(variable)))


# -- the state K-FAC carries between steps --------------------------------------------------

def _batch_problem(seed):
    """A layer and the loss of one of several batches (chosen by the returned setter)."""
    layer, _, _, _, _ = make_layer_problem(seed=seed)
    batches = [make_layer_problem(seed=seed + 10 + index)[1:4] for index in range(4)]
    chosen = [0]

    def losses():
        x, targets, noise = batches[chosen[0]]
        y = layer(tf.constant(x))
        loss = tf.reduce_mean(tf.reduce_sum(tf.square(y - targets), axis=1))
        sampled = tf.reduce_mean(tf.reduce_sum(tf.square(y - tf.stop_gradient(y + noise)),
                                               axis=1))
        return loss, sampled

    def statistics(index):
        x, targets, noise = batches[index]
        return numpy_statistics(layer, x, targets, noise)[:2]

    return layer, losses, chosen, statistics


@pytest.mark.parametrize("cold_iter", [1, 3])
def test_statistics_average_equally_while_cold_then_decay(cold_iter):
    layer, losses, chosen, statistics = _batch_problem(seed=8)
    decay = 0.9
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias], learning_rate=0.0,
                              momentum=0.9, clip_kl=0.01, damping=DAMPING, stats_decay=decay,
                              kfac_update=1, cold_iter=cold_iter)
    expected_a = np.zeros((5, 5))
    expected_g = np.zeros((3, 3))
    for update in range(4):  # four different batches; the parameters never move (rate 0)
        chosen[0] = update
        a_factor, g_factor = statistics(update)
        optimizer.minimize(losses)
        if update < cold_iter:
            expected_a += a_factor / cold_iter
            expected_g += g_factor / cold_iter
        else:
            expected_a = decay * expected_a + (1 - decay) * a_factor
            expected_g = decay * expected_g + (1 - decay) * g_factor
        np.testing.assert_allclose(optimizer.input_blocks[0].factor.numpy(), expected_a,
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(optimizer.grad_blocks[0].factor.numpy(), expected_g,
                                   rtol=1e-4, atol=1e-5)


def test_eigen_decompositions_happen_every_kfac_update_steps_after_the_cold_ones():
    layer, losses, chosen, _ = _batch_problem(seed=9)
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias], learning_rate=0.0,
                              momentum=0.9, clip_kl=0.01, damping=DAMPING, stats_decay=0.5,
                              kfac_update=3, cold_iter=2)
    decomposed_at = []
    for update in range(10):
        chosen[0] = update % 4
        before = optimizer.input_blocks[0].eigenvalues.numpy().copy()
        optimizer.minimize(losses)
        if not np.array_equal(before, optimizer.input_blocks[0].eigenvalues.numpy()):
            decomposed_at.append(update)
    # as the original's eigen thread: once 3, 6, 9 statistics updates have happened (after
    # updates 2, 5, 8), the next update (3, 6, 9) applies their decomposition
    assert decomposed_at == [3, 6, 9]
    assert int(optimizer.factor_updates.numpy()) == 3


def test_cold_steps_are_cold_iter_plus_one_and_the_kfac_step_starts_one_before_the_last():
    """The original's graph (measured, tests/test_parity_acktr.py): updates 0 .. cold_iter
    run its cold momentum-SGD optimiser, updates from cold_iter - 1 on its K-FAC optimiser
    (whose condition reads the step counter after the cold step incremented it), each with a
    velocity of its own. (An earlier version started the K-FAC optimiser at update cold_iter,
    which the original's runs did not do.)"""
    layer, losses, chosen, _ = _batch_problem(seed=10)
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias], learning_rate=0.01,
                              momentum=0.9, clip_kl=0.01, damping=DAMPING, stats_decay=0.95,
                              kfac_update=1, cold_iter=2)
    cold_moved, kfac_moved = [], []
    for update in range(5):
        cold_before = optimizer.cold_velocities[0].numpy().copy()
        kfac_before = optimizer.velocities[0].numpy().copy()
        optimizer.minimize(losses)
        cold_moved.append(not np.array_equal(cold_before, optimizer.cold_velocities[0].numpy()))
        kfac_moved.append(not np.array_equal(kfac_before, optimizer.velocities[0].numpy()))
    assert cold_moved == [True, True, True, False, False]
    assert kfac_moved == [False, True, True, True, True]


def test_kfac_steps_take_the_raw_gradient_until_the_first_decomposition():
    """cold_iter 1, kfac_update 2 (the policy's): updates 0 and 1 take the cold step and the
    K-FAC optimiser's step with the raw, unclipped gradient (the original's thread has not
    decomposed anything yet); update 2 applies the decomposition of the statistics after
    update 1 and takes the first preconditioned step. (An earlier version decomposed during
    update 1 and preconditioned its step, which the original never does.)"""
    layer, losses, chosen, _ = _batch_problem(seed=12)
    rate, momentum = 0.05, 0.9
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias], learning_rate=rate,
                              momentum=momentum, clip_kl=0.01, damping=DAMPING,
                              stats_decay=0.99, kfac_update=2, cold_iter=1)
    velocity = [np.zeros(v.shape) for v in optimizer.params]
    for update in range(3):
        chosen[0] = update
        with tf.GradientTape() as tape:
            loss, _ = losses()
        gradient = [g.numpy() for g in tape.gradient(loss, optimizer.params)]
        before = [v.numpy().copy() for v in optimizer.params]
        cold_before = [v.numpy().copy() for v in optimizer.cold_velocities]
        result = optimizer.minimize(losses)
        if update < 2:
            assert int(optimizer.factor_updates.numpy()) == 0
            assert float(result["vfv"]) == 0.0
            direction = gradient
        else:
            assert int(optimizer.factor_updates.numpy()) == 1
            assert float(result["vfv"]) > 0.0
            direction = [d.numpy() for d in optimizer.preconditioned(
                [tf.constant(g) for g in gradient])]
            scale = min(1.0, np.sqrt(0.01 / float(result["vfv"])))
            direction = [scale * d for d in direction]
        velocity = [momentum * v + d for v, d in zip(velocity, direction)]
        for index, variable in enumerate(optimizer.params):
            np.testing.assert_allclose(optimizer.velocities[index].numpy(), velocity[index],
                                       rtol=1e-4, atol=1e-6)
            cold_step = 0.0
            if update < 2:  # the cold optimiser: momentum SGD on the raw gradient
                cold_velocity = momentum * cold_before[index] + gradient[index]
                cold_step = rate * (1 - momentum) * cold_velocity
            expected = before[index] - cold_step - rate * (1 - momentum) * velocity[index]
            np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_one_momentum_step_by_hand():
    """params change by -lr (1 - m) v with v = m v_previous + d, d the clipped K-FAC
    direction of the current gradient under the current eigenbasis."""
    layer, losses, chosen, _ = _batch_problem(seed=11)
    momentum, rate = 0.9, 0.05
    optimizer = KFACOptimizer([layer], [layer.kernel, layer.bias], learning_rate=rate,
                              momentum=momentum, clip_kl=1e6, damping=DAMPING,
                              stats_decay=0.95, kfac_update=1, cold_iter=1)
    for _ in range(2):  # cold steps, with a raw-gradient step (update 0) and the first
        optimizer.minimize(losses)  # preconditioned one (update 1): velocities now nonzero
    velocity = [v.numpy().copy() for v in optimizer.velocities]
    params = [v.numpy().copy() for v in optimizer.params]
    with tf.GradientTape() as tape:
        loss, _ = losses()
    gradient = tape.gradient(loss, optimizer.params)
    optimizer.minimize(losses)  # the decomposition (of the statistics so far), then the step
    direction = [d.numpy() for d in optimizer.preconditioned(gradient)]
    for before, v_before, d, after in zip(params, velocity, direction, optimizer.params):
        expected_velocity = momentum * v_before + d
        np.testing.assert_allclose(after.numpy(),
                                   before - rate * (1 - momentum) * expected_velocity,
                                   rtol=1e-5, atol=1e-7)


def test_eigenvalues_below_the_floor_count_as_zero():
    variable = tf.Variable(np.zeros(2, np.float32))
    optimizer = KFACOptimizer([], [variable], learning_rate=0.1, momentum=0.9, clip_kl=0.01,
                              damping=1e-8, stats_decay=0.99, kfac_update=1, cold_iter=1)
    block = optimizer.vector_blocks[0]
    block.factor.assign(np.diag([5e-7, 2.0]).astype(np.float32))
    block.decompose()
    direction = optimizer.preconditioned([tf.constant([1.0, 1.0])])[0].numpy()
    # 1 / (0 + 1e-8) along the floored eigenvector, not 1 / (5e-7 + 1e-8)
    np.testing.assert_allclose(sorted(direction), [1.0 / 2.0, 1e8], rtol=1e-3)
