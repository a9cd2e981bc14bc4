"""Beta policy for bounded actions: every action dimension an independent Beta distribution
stretched from (0, 1) onto the env's action box (the original's TRPO- and PPO-Beta,
`other_baselines/{trpo,ppo}_beta/policies.py`, which map (0, 1) to [-1, 1] in an env
wrapper)."""
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.networks import MLP, normc
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.box import UNIT_INTERVAL, Bounds, IntervalToBox

tfd = tfp.distributions


class BetaPolicy(Policy):
    """a_i = low_i + (high_i - low_i) u_i,  u_i ~ Beta(alpha_i(s), beta_i(s)),
    alpha, beta = 1 + softplus(net(s)).

    One tanh MLP outputs both concentration vectors [batch, 2 * act_dim]; its last layer has
    columns of norm `output_init_scale`, so every dimension starts near alpha = beta =
    1 + log 2 (a broad hump over the box). Concentrations above 1 keep each density unimodal
    and bounded, as in the original. Every parameter is in a Dense layer (for K-FAC).
    Log-densities clip actions on the bounds into the open box (`policies.box`). KL and
    entropy are closed forms; the deterministic action is the mode, as the original's.
    """

    def __init__(self, obs_dim: int, act_dim: int, obs_normalizer: Optional[RunningMeanStd],
                 seed: int, bounds: Bounds, hidden_sizes: Sequence[int] = (32, 32),
                 output_init_scale: float = 0.01, name: str = "beta_policy"):
        super().__init__(obs_dim, act_dim, obs_normalizer, seed, name)
        rng = np.random.default_rng(seed)
        self.concentration_net = MLP(obs_dim, hidden_sizes, 2 * act_dim, tf.tanh, rng,
                                     hidden_init=normc(1.0),
                                     output_init=normc(output_init_scale))
        self.to_box = IntervalToBox(UNIT_INTERVAL, *bounds)

    def unit_distribution(self, features: tf.Tensor) -> tfd.Beta:
        """The Betas on (0, 1) for normalised observations [batch, obs_dim]; batch shape
        [batch, act_dim]."""
        concentrations = 1.0 + tf.nn.softplus(self.concentration_net(features))
        alpha, beta = tf.split(concentrations, 2, axis=-1)  # [batch, act_dim] each
        return tfd.Beta(alpha, beta)

    def _distribution(self, features):
        return tfd.Independent(
            tfd.TransformedDistribution(self.unit_distribution(features), self.to_box),
            reinterpreted_batch_ndims=1)

    def _deterministic_action(self, features):
        """The mode, (alpha - 1) / (alpha + beta - 2) on (0, 1), mapped to the box."""
        return self.to_box.forward(self.unit_distribution(features).mode())

    def entropy(self, observations):
        """Closed form: the Betas' entropies plus log(high - low), summed over dimensions."""
        return self.distribution(observations).entropy()

    def entropy_at_actions(self, observations, log_probs, log_ratio):
        """The closed form; the actions are not needed."""
        return self.entropy(observations)

    def kl(self, old, observations, actions, log_ratio=None):
        """Closed-form KL(old || self) per state, summed over dimensions (the same affine map
        to the box leaves it unchanged); `actions` and `log_ratio` are not needed."""
        features = self.features(observations)
        return tf.reduce_sum(old.unit_distribution(features).kl_divergence(
            self.unit_distribution(features)), axis=-1)
