"""Distributions on the env's action box [low, high]: a fixed interval (the Beta's (0, 1), tanh's
(-1, 1)) mapped affinely onto the box in every action dimension.

Log-densities at or near the bounds: the inverse map clips its result into the open interval,
BOUNDARY_EPSILON inside each end (in the interval's own units), before the density is taken.
Actions on a bound then have a finite log-density, that of the point BOUNDARY_EPSILON inside
it, instead of -inf (a Beta with concentration > 1 there) or NaN (atanh(+-1)). Such actions
are common: tanh(x) rounds to exactly 1 in float32 once |x| > 9, a Beta draw rounds onto 0 or
1 when it is very concentrated, and env wrappers clip actions to the box. The old and the new
policy see the same clipped point, so ratios and KL estimates stay consistent; the density is
changed only on a margin of 1e-6 of the interval's width at each bound.
"""
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.errors import UserError

tfb = tfp.bijectors

BOUNDARY_EPSILON = 1e-6  # clip margin of the inverse map, in units of the source interval
UNIT_INTERVAL = (0.0, 1.0)  # the Beta distribution's support
SYMMETRIC_INTERVAL = (-1.0, 1.0)  # tanh's range

Bounds = Tuple[np.ndarray, np.ndarray]


def action_box(bounds: Optional[Bounds], act_dim: int) -> Bounds:
    """(low, high), float32 [act_dim] each: `bounds` checked (finite, low < high), or the box
    [-1, 1]^act_dim where no bounds are given. Raises UserError for an unbounded box."""
    if bounds is None:
        return -np.ones(act_dim, np.float32), np.ones(act_dim, np.float32)
    low, high = (np.broadcast_to(np.asarray(edge, np.float32), [act_dim]) for edge in bounds)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise UserError("--policy beta and tanh-gaussian need a bounded action box; this env's "
                        f"is [{low}, {high}]")
    if not np.all(low < high):
        raise UserError(f"the action box needs low < high in every dimension: [{low}, {high}]")
    return low, high


class IntervalToBox(tfb.Bijector):
    """y = low + (x - lower) * (high - low) / (upper - lower), elementwise, from the interval
    [lower, upper] onto [low, high] (float32 [act_dim] each). The inverse clips into the open
    interval (see the module docstring). Constant Jacobian log((high - low) / (upper - lower)).
    """

    def __init__(self, interval: Tuple[float, float], low: np.ndarray, high: np.ndarray,
                 name: str = "interval_to_box"):
        super().__init__(forward_min_event_ndims=0, is_constant_jacobian=True,
                         validate_args=False, name=name, parameters=dict(locals()))
        self._lower, self._upper = interval
        self._low = tf.constant(low, tf.float32)
        self._scale = tf.constant((high - low) / (self._upper - self._lower), tf.float32)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict()

    def _is_increasing(self):
        return True

    def _forward(self, x):
        return self._low + (x - self._lower) * self._scale

    def _inverse(self, y):
        x = self._lower + (y - self._low) / self._scale
        return tf.clip_by_value(x, self._lower + BOUNDARY_EPSILON,
                                self._upper - BOUNDARY_EPSILON)

    def _forward_log_det_jacobian(self, x):
        return tf.math.log(self._scale)  # [act_dim], broadcast against x
