"""Gaussian-mixture policy with K equally weighted components (the original's TRPO-GMM)."""
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.networks import MLP, Dense, normc
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.policies.base import Policy

tfd = tfp.distributions


class ComponentAverageLogDensity(tfd.MixtureSameFamily):
    """The mixture, sampled as such, whose log_prob is the mean over components of the
    component log-densities (the original code's GMM log-density; not a density of what is
    sampled). Kept only to measure that difference (docs/divergences.md)."""

    def _log_prob(self, x):
        per_component = self.components_distribution.log_prob(x[..., tf.newaxis, :])
        return tf.reduce_mean(per_component, axis=-1)  # [..., batch]


class GMMPolicy(Policy):
    """sum_k (1/K) N(mean_k(s), diag(exp(log_std_k))^2).

    A shared tanh trunk feeds K mean heads (columns of norm 0.01, as the Gaussian's head);
    each component has its own state-independent log-std, starting at 0; the weights are fixed.
    log_prob is the true mixture density, log-sum-exp over components minus log K; with
    `log_density` "original", the original's mean of the component log-densities instead
    (docs/divergences.md), which every log-density, ratio, KL and entropy estimate then uses.
    KL and entropy are sample estimates (base class). Sampling picks a component uniformly;
    it is not reparameterised, so the entropy estimate carries no pathwise gradient.
    """

    def __init__(self, obs_dim: int, act_dim: int, obs_normalizer: Optional[RunningMeanStd],
                 seed: int, num_components: int = 2, hidden_sizes: Sequence[int] = (32, 32),
                 log_density: str = "mixture", name: str = "gmm_policy"):
        super().__init__(obs_dim, act_dim, obs_normalizer, seed, name)
        rng = np.random.default_rng(seed)
        self.num_components = num_components
        self.log_density = log_density
        self.trunk = MLP(obs_dim, hidden_sizes[:-1], hidden_sizes[-1], tf.tanh, rng,
                         hidden_init=normc(1.0), output_init=normc(1.0))
        self.mean_heads = [Dense(hidden_sizes[-1], act_dim, normc(0.01), rng)
                           for _ in range(num_components)]
        self.log_stds = tf.Variable(tf.zeros([num_components, act_dim]), name="log_stds")

    def _component_means(self, features):
        hidden = tf.tanh(self.trunk(features))  # [batch, hidden]
        return tf.stack([head(hidden) for head in self.mean_heads], axis=-2)  # [batch, K, act]

    def _mixture(self, means, kind=tfd.MixtureSameFamily):
        """The equal-weight mixture of components centred at `means` [batch, K, act_dim]."""
        components = tfd.Independent(tfd.Normal(means, tf.exp(self.log_stds)),
                                     reinterpreted_batch_ndims=1)
        weights = tfd.Categorical(logits=tf.zeros(tf.shape(means)[:-1]))  # [batch, K]
        return kind(weights, components)

    def _distribution(self, features):
        kind = (ComponentAverageLogDensity if self.log_density == "original"
                else tfd.MixtureSameFamily)
        return self._mixture(self._component_means(features), kind)

    def _deterministic_action(self, features):
        """The component mean at which the mixture density is highest."""
        means = self._component_means(features)  # [batch, K, act_dim]
        dist = self._mixture(means)
        density_at_means = dist.log_prob(tf.transpose(means, [1, 0, 2]))  # [K, batch]
        best = tf.argmax(density_at_means, axis=0)  # [batch]
        return tf.gather(means, best, axis=1, batch_dims=1)
