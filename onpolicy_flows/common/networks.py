"""Small building blocks for policies and value functions, as plain `tf.Module`s.

Layers are written here (not taken from Keras) so that every weight is an attribute that
`trainable_variables` and checkpoints see, initialisation follows the original exactly, and
K-FAC can read each layer's inputs and outputs (`record_calls`).
"""
import contextlib
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

Initializer = Callable[[tuple, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class RecordedCall:
    """One use of parameters inside a loss, as K-FAC reads it.

    owner: a Dense layer (inputs [batch, in_dim], outputs its pre-activations
    [batch, out_dim]), a LayerNorm (inputs the normalised values [batch, dim], outputs
    [batch, dim] after its scale and offset), or a bare variable that enters through an
    elementwise map shared by the whole batch (inputs None, outputs the mapped variable, e.g.
    a Gaussian's std = exp(log_std) [act_dim]).
    """
    owner: Union["Dense", "LayerNorm", tf.Variable]
    inputs: Optional[tf.Tensor]
    outputs: tf.Tensor


_recorded: Optional[List[RecordedCall]] = None


@contextlib.contextmanager
def record_calls():
    """Within this context every Dense and LayerNorm call, and every `recorded_exp`, appends
    a RecordedCall to the yielded list, in call order. K-FAC uses it to read the statistics
    of its curvature blocks; a GradientTape around the same code can differentiate a loss
    with respect to the recorded outputs."""
    global _recorded
    outer, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = outer


def recording_calls() -> bool:
    """Whether a `record_calls` context is open."""
    return _recorded is not None


# Products of at most this many weights are written as a broadcast multiply and a sum in
# acting graphs (`acting_forms`): XLA fuses them with their neighbours, where a matmul of
# two or more rows becomes a call into Eigen (the flow's ~120 tiny products cost ~100 us a
# step that way at batch 2).
SMALL_PRODUCT_WEIGHTS = 64

_acting = False


@contextlib.contextmanager
def acting_forms():
    """Within this context Dense and LayerNorm build the forms that are fastest in one
    XLA-compiled forward pass over a few rows (the acting function): small products as
    multiply-and-sum, layer-norm moments as means. The values are those of the usual forms
    up to float rounding; those forms stay for everything that is differentiated (their
    second derivatives are cheaper to build)."""
    global _acting
    outer, _acting = _acting, True
    try:
        yield
    finally:
        _acting = outer


def _record(owner, inputs, outputs) -> None:
    if _recorded is not None:
        _recorded.append(RecordedCall(owner, inputs, outputs))


def recorded_exp(log_scale: tf.Variable) -> tf.Tensor:
    """exp(log_scale), recorded for K-FAC (a state-independent log-std: its curvature block
    is built from the gradient with respect to the std, as the original's is)."""
    scale = tf.exp(log_scale)
    _record(log_scale, None, scale)
    return scale


def normc(scale: float = 1.0) -> Initializer:
    """Gaussian weights with each output column rescaled to norm `scale` (baselines' normc)."""
    def init(shape, rng):
        weights = rng.standard_normal(shape)
        return scale * weights / np.sqrt(np.square(weights).sum(axis=0, keepdims=True))
    return init


def uniform(limit: float) -> Initializer:
    def init(shape, rng):
        return rng.uniform(-limit, limit, size=shape)
    return init


def glorot_uniform() -> Initializer:
    """TF1's default kernel initialiser (`tf.layers.dense`)."""
    def init(shape, rng):
        limit = np.sqrt(6.0 / (shape[0] + shape[1]))
        return rng.uniform(-limit, limit, size=shape)
    return init


class Dense(tf.Module):
    """y = x W + b. x: [batch, in_dim] -> [batch, out_dim]; bias initialised at zero."""

    def __init__(self, in_dim: int, out_dim: int, kernel_init: Initializer,
                 rng: np.random.Generator, name: Optional[str] = None):
        super().__init__(name=name)
        self.kernel = tf.Variable(kernel_init((in_dim, out_dim), rng).astype(np.float32),
                                  name="kernel")
        self.bias = tf.Variable(tf.zeros([out_dim]), name="bias")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        in_dim, out_dim = self.kernel.shape
        if _acting and in_dim * out_dim <= SMALL_PRODUCT_WEIGHTS:
            product = tf.reduce_sum(x[..., :, None] * self.kernel, axis=-2)
        else:
            product = tf.matmul(x, self.kernel)
        pre_activation = product + self.bias
        _record(self, x, pre_activation)
        return pre_activation


class LayerNorm(tf.Module):
    """Layer normalisation over the last axis with a learnt scale and offset.

    epsilon defaults to 1e-12, the value of `tf.contrib.layers.layer_norm` in the original.
    `variance_stops_mean_gradient` reproduces that function's use of `tf.nn.moments`, whose
    variance stops the gradient through the mean: the same values and first derivatives,
    but second derivatives (TRPO's Fisher-vector product) that are off. For measuring that
    difference only (docs/divergences.md).
    """

    def __init__(self, dim: int, epsilon: float = 1e-12,
                 variance_stops_mean_gradient: bool = False, name: Optional[str] = None):
        super().__init__(name=name)
        self.epsilon = epsilon
        self.variance_stops_mean_gradient = variance_stops_mean_gradient
        self.scale = tf.Variable(tf.ones([dim]), name="scale")
        self.offset = tf.Variable(tf.zeros([dim]), name="offset")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        # Not tf.nn.moments: it stops the gradient through the mean inside the variance,
        # which leaves first derivatives exact but makes second derivatives (the TRPO
        # Fisher-vector product) wrong. The means are products with constant matrices, whose
        # first and second derivatives are plain matrix products (a reduce_mean's need
        # shape arithmetic): the flow's Fisher-vector product graph is 30% smaller. The
        # variance is averaged into every column, so that no product below broadcasts (a
        # broadcast's gradient adds a sum, a reshape and shape constants): 9% smaller again.
        if _acting:
            centered = x - tf.reduce_mean(x, axis=-1, keepdims=True)
            variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
            return self._scale_and_offset(centered * tf.math.rsqrt(variance + self.epsilon))
        dim = x.shape[-1]
        centering = tf.constant(np.eye(dim) - 1.0 / dim, tf.float32)  # x - mean(x)
        averaging = tf.constant(np.full([dim, dim], 1.0 / dim), tf.float32)
        centered = tf.matmul(x, centering)
        deviations = centered
        if self.variance_stops_mean_gradient:
            deviations = x - tf.stop_gradient(tf.matmul(x, averaging))
        variance = tf.matmul(tf.square(deviations), averaging)  # [batch, dim], equal columns
        return self._scale_and_offset(centered * tf.math.rsqrt(variance + self.epsilon))

    def _scale_and_offset(self, normalised: tf.Tensor) -> tf.Tensor:
        outputs = normalised * self.scale + self.offset
        _record(self, normalised, outputs)
        return outputs


class MLP(tf.Module):
    """Dense -> [LayerNorm] -> activation for each hidden size, then a linear Dense output.

    x: [batch, in_dim] -> [batch, out_dim]. `variance_stops_mean_gradient` is passed to the
    LayerNorms.
    """

    def __init__(self, in_dim: int, hidden_sizes: Sequence[int], out_dim: int,
                 activation: Callable[[tf.Tensor], tf.Tensor], rng: np.random.Generator,
                 hidden_init: Initializer, output_init: Initializer, layer_norm: bool = False,
                 variance_stops_mean_gradient: bool = False, name: Optional[str] = None):
        super().__init__(name=name)
        self.activation = activation
        sizes = [in_dim, *hidden_sizes]
        self.hidden = [Dense(n_in, n_out, hidden_init, rng)
                       for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.norms = [LayerNorm(n, variance_stops_mean_gradient=variance_stops_mean_gradient)
                      for n in hidden_sizes] if layer_norm else []
        self.output = Dense(sizes[-1], out_dim, output_init, rng)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        for index, dense in enumerate(self.hidden):
            x = dense(x)
            if self.norms:
                x = self.norms[index](x)
            x = self.activation(x)
        return self.output(x)
