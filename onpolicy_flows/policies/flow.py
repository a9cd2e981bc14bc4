"""Normalizing-flow policy: a TFP bijector chain over a standard normal (Tang & Agrawal, eq. 7).

    a = g_K o ... o g_2 o (L(s) + g_1(eps)),   eps ~ N(0, I_act_dim)

Each g_i is an affine coupling (RealNVP) that keeps the masked coordinates and maps the rest
as x * exp(s(x_masked)) + t(x_masked); masks alternate between the first half of the
coordinates (rounded up) and the rest. L(s) is a state embedding added after the first
coupling as a `tfb.Shift`. Port of the original's `normalizingflow_model.py` and
`NormalizingFlowStateModel`.
"""
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.networks import MLP, glorot_uniform, recording_calls, uniform
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.policies.base import Policy

tfd = tfp.distributions
tfb = tfp.bijectors

STATE_EMBEDDING_UNITS = 64
OUTPUT_INIT_LIMIT = 3e-3


def alternating_masks(dim: int) -> tuple:
    """The two masks [dim] of the original: first ceil(dim/2) coordinates, then the rest."""
    first = np.zeros(dim, np.float32)
    first[:(dim + 1) // 2] = 1.0
    return first, 1.0 - first


def coupling_net(dim: int, num_units: int, rng: np.random.Generator,
                 variance_stops_mean_gradient: bool = False) -> MLP:
    """[batch, dim] -> [batch, dim]: 2 x (Dense -> LayerNorm -> ReLU), output init +-3e-3.
    `variance_stops_mean_gradient`: see `LayerNorm`."""
    return MLP(dim, (num_units, num_units), dim, tf.nn.relu, rng, hidden_init=glorot_uniform(),
               output_init=uniform(OUTPUT_INIT_LIMIT), layer_norm=True,
               variance_stops_mean_gradient=variance_stops_mean_gradient)


class AffineCoupling(tfb.Bijector):
    """y = x*m + (1-m) * (x * exp(s(x*m)) + t(x*m)) for a fixed binary mask m.

    The nets see the full-width masked input, as in the original, so a coupling whose
    transformed part has no kept coordinates to read (action dimension 1) is still an affine
    map with learnt constants. log|det dy/dx| = sum((1-m) * s(x*m)).
    """

    def __init__(self, mask: np.ndarray, scale_net: MLP, shift_net: MLP, name="coupling"):
        super().__init__(forward_min_event_ndims=1, validate_args=False, name=name,
                         parameters=dict(locals()))
        self._mask = tf.constant(mask)
        self._scale_net = scale_net
        self._shift_net = shift_net

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict()

    def _get_parameterization(self):
        """This instance alone. TFP's bijector cache is shared by all bijectors with equal
        parameters, and every coupling built for the same nets has equal parameters; shared,
        a log-density computed twice on the same tensors within one compiled function (e.g.
        before and after an optimiser step) would reuse the first computation's values."""
        return id(self)

    def _nets(self, x):
        """The kept part x*m [batch, dim] and the nets' log-scale and shift at it."""
        kept = x * self._mask
        return kept, self._scale_net(kept), self._shift_net(kept)

    def _log_det(self, log_scale):
        """log|det dy/dx| [batch] of the forward map at nets' output `log_scale`."""
        return tf.reduce_sum((1.0 - self._mask) * log_scale, axis=-1)

    # Each direction evaluates the nets once and leaves its log-determinant in TFP's cache
    # entry for the (x, y) pair, where the log-determinant methods find it: otherwise a
    # log-density would run the scale net twice per coupling (once to invert, once for the
    # determinant), and every gradient graph built on it would carry both copies. The values
    # are the same either way. K-FAC's statistics pass (`record_calls`) is the exception: it
    # reads the original's graph, which ran the scale net twice, and its curvature blocks
    # depend on the number of calls (acktr/kfac.py).
    def _forward(self, x):
        kept, log_scale, shift = self._nets(x)
        self._remember_log_det(self._cache.forward_attributes(x), log_scale)
        return kept + (1.0 - self._mask) * (x * tf.exp(log_scale) + shift)

    def _inverse(self, y):
        kept, log_scale, shift = self._nets(y)
        self._remember_log_det(self._cache.inverse_attributes(y), log_scale)
        return kept + (1.0 - self._mask) * ((y - shift) * tf.exp(-log_scale))

    def _remember_log_det(self, attributes, log_scale):
        if not recording_calls():
            attributes["ildj"] = -self._log_det(log_scale)

    def _forward_log_det_jacobian(self, x):
        if recording_calls():
            return self._log_det(self._scale_net(x * self._mask))
        self.forward(x)
        return -self._cache.forward_attributes(x)["ildj"]

    def _inverse_log_det_jacobian(self, y):
        if recording_calls():
            return -self._log_det(self._scale_net(y * self._mask))
        self.inverse(y)
        return self._cache.inverse_attributes(y)["ildj"]


def normal_constant(act_dim: int) -> float:
    """(d/2) log 2 pi for d = act_dim: the constant of log N(eps; 0, I) that the original's
    flow log-density leaves out (nats)."""
    return 0.5 * act_dim * float(np.log(2.0 * np.pi))


class FlowPolicy(Policy):
    """pi(a|s) as `tfd.TransformedDistribution(N(0, I), Chain(couplings, Shift(L(s))))`.

    `num_layers` counts pairs of couplings, as the original's `--num-layers` does: the chain
    has 2 * num_layers couplings (the paper's K is the number of couplings). log_prob inverts
    the chain: log N(eps) - sum of the couplings' log-determinants. KL and entropy are sample
    estimates (base class). The deterministic action pushes eps = 0 through the chain.
    `layer_norm_hessian` "original" restores the original's second derivatives through the
    LayerNorms (`LayerNorm`'s `variance_stops_mean_gradient`), to measure that difference.
    """

    def __init__(self, obs_dim: int, act_dim: int, obs_normalizer: Optional[RunningMeanStd],
                 seed: int, num_layers: int = 4, num_units: int = 3,
                 layer_norm_hessian: str = "exact", name: str = "flow_policy"):
        super().__init__(obs_dim, act_dim, obs_normalizer, seed, name)
        rng = np.random.default_rng(seed)
        original_hessian = layer_norm_hessian == "original"
        self.masks = list(alternating_masks(act_dim)) * num_layers
        self.scale_nets = [coupling_net(act_dim, num_units, rng, original_hessian)
                           for _ in self.masks]
        self.shift_nets = [coupling_net(act_dim, num_units, rng, original_hessian)
                           for _ in self.masks]
        self.state_embedding = MLP(
            obs_dim, (STATE_EMBEDDING_UNITS, STATE_EMBEDDING_UNITS), act_dim, tf.nn.relu, rng,
            hidden_init=glorot_uniform(), output_init=uniform(OUTPUT_INIT_LIMIT),
            layer_norm=True, variance_stops_mean_gradient=original_hessian)

    @property
    def original_log_density_shift(self) -> float:
        """(d/2) log 2 pi: the original's log N(eps) leaves out the Normal's constant."""
        return normal_constant(self.act_dim)

    def bijector(self, features: tf.Tensor) -> tfb.Bijector:
        """The state-conditioned chain eps -> a for normalised observations [batch, obs_dim]."""
        couplings = [AffineCoupling(mask, scale, shift, name=f"coupling_{index}")
                     for index, (mask, scale, shift)
                     in enumerate(zip(self.masks, self.scale_nets, self.shift_nets))]
        state_shift = tfb.Shift(self.state_embedding(features), name="state_shift")
        in_order = [couplings[0], state_shift, *couplings[1:]]
        return tfb.Chain(in_order[::-1])  # Chain applies its last bijector first

    def _distribution(self, features):
        base = tfd.Independent(
            tfd.Normal(tf.zeros([tf.shape(features)[0], self.act_dim]), 1.0),
            reinterpreted_batch_ndims=1)
        return tfd.TransformedDistribution(base, self.bijector(features))

    def _deterministic_action(self, features):
        """Zero noise through the chain."""
        return self.bijector(features).forward(tf.zeros([tf.shape(features)[0], self.act_dim]))
