"""Tanh-squashed Gaussian policy for bounded actions: a Gaussian sample pushed through tanh into
(-1, 1), then stretched onto the env's action box.

The original's PPO variant of this name (`other_baselines/ppo_gaussian_tanh/policies.py`)
squashes only the mean and leaves the Gaussian sample unbounded; this class squashes the
sample itself, so that every action lies in the box (see docs/divergences.md).
"""
from typing import Optional, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.box import SYMMETRIC_INTERVAL, Bounds, IntervalToBox
from onpolicy_flows.policies.gaussian import GaussianPolicy

tfd = tfp.distributions
tfb = tfp.bijectors


class TanhGaussianPolicy(GaussianPolicy):
    """a = low + (high - low) (tanh(x) + 1) / 2,  x ~ N(mean(s), diag(exp(log_std))^2).

    The Gaussian before squashing is exactly `GaussianPolicy`'s (its mean net, and its
    state-independent `log_std` read the way the Gaussian reads it). log pi(a|s) =
    log N(x) - sum_i log(1 - tanh(x_i)^2) - sum_i log((high_i - low_i) / 2), with x recovered
    by atanh after clipping actions on the bounds into the open box (`policies.box`). KL is
    closed form (one bijection maps both policies' Gaussians, and KL is invariant under it);
    entropy has none and is the base class's sample estimate. The deterministic action is the
    squashed mean (each coordinate's median).
    """

    def __init__(self, obs_dim: int, act_dim: int, obs_normalizer: Optional[RunningMeanStd],
                 seed: int, bounds: Bounds, hidden_sizes: Sequence[int] = (32, 32),
                 mean_init_scale: float = 0.01, log_std: str = "learned",
                 name: str = "tanh_gaussian_policy"):
        super().__init__(obs_dim, act_dim, obs_normalizer, seed, hidden_sizes=hidden_sizes,
                         mean_init_scale=mean_init_scale, log_std=log_std, name=name)
        self.squash = tfb.Chain([IntervalToBox(SYMMETRIC_INTERVAL, *bounds), tfb.Tanh()])

    # No closed form once squashed: the base class's estimates, not the Gaussian's formulas.
    entropy = Policy.entropy
    entropy_at_actions = Policy.entropy_at_actions

    def gaussian(self, features: tf.Tensor) -> tfd.Distribution:
        """The distribution of x before squashing, for normalised observations
        [batch, obs_dim]; event [act_dim]."""
        return super()._distribution(features)

    def _distribution(self, features):
        return tfd.TransformedDistribution(self.gaussian(features), self.squash)

    def _deterministic_action(self, features):
        """The squashed mean."""
        return self.squash.forward(super()._deterministic_action(features))

    def kl(self, old, observations, actions, log_ratio=None):
        """Closed-form KL(old || self) per state: that of the two Gaussians before squashing;
        `actions` and `log_ratio` are not needed."""
        features = self.features(observations)
        return old.gaussian(features).kl_divergence(self.gaussian(features))
