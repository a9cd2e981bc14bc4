"""common/networks.py: LayerNorm against its definition in numpy, first and second
derivatives included."""
import numpy as np
import tensorflow as tf

from onpolicy_flows.common.networks import LayerNorm


def _numpy_layer_norm(x, scale, offset, epsilon):
    centered = x - x.mean(axis=-1, keepdims=True)
    return centered / np.sqrt((centered ** 2).mean(axis=-1, keepdims=True) + epsilon) \
        * scale + offset


def test_layer_norm_is_its_definition_with_exact_derivatives():
    rng = np.random.default_rng(0)
    layer = LayerNorm(6, epsilon=1e-3)
    layer.scale.assign(rng.uniform(0.5, 2.0, 6).astype(np.float32))
    layer.offset.assign(rng.standard_normal(6).astype(np.float32))
    x = (3.0 + rng.standard_normal((5, 6))).astype(np.float64)
    scale, offset = layer.scale.numpy().astype(np.float64), layer.offset.numpy()
    np.testing.assert_allclose(layer(tf.constant(x, tf.float32)).numpy(),
                               _numpy_layer_norm(x, scale, offset, 1e-3), rtol=1e-5, atol=1e-5)

    # The gradient of sum(w * LN(x)) with respect to x, and its derivative along v (the
    # second derivatives TRPO's Fisher-vector product needs), against central differences.
    weights, direction = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))

    def gradient(points):
        points = tf.constant(points, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(points)
            value = tf.reduce_sum(tf.constant(weights, tf.float32) * layer(points))
        return tape.gradient(value, points).numpy().astype(np.float64)

    def numpy_value(points):
        return np.sum(weights * _numpy_layer_norm(points, scale, offset, 1e-3))

    step = 1e-4
    numeric_gradient = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        shift = np.zeros_like(x)
        shift[index] = step
        numeric_gradient[index] = (numpy_value(x + shift) - numpy_value(x - shift)) / (2 * step)
    np.testing.assert_allclose(gradient(x), numeric_gradient, rtol=1e-3, atol=1e-3)

    points = tf.constant(x, tf.float32)
    with tf.GradientTape() as outer:
        outer.watch(points)
        with tf.GradientTape() as inner:
            inner.watch(points)
            value = tf.reduce_sum(tf.constant(weights, tf.float32) * layer(points))
        along = tf.reduce_sum(inner.gradient(value, points) * tf.constant(direction, tf.float32))
    hessian_times_direction = outer.gradient(along, points).numpy()
    numeric = (gradient(x + 1e-2 * direction) - gradient(x - 1e-2 * direction)) / 2e-2
    np.testing.assert_allclose(hessian_times_direction, numeric, rtol=2e-2,
                               atol=2e-2 * np.abs(numeric).max())
