"""Factorized Gaussian policy (port of baselines' ppo1 `MlpPolicy` with fixed-variance head)."""
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.networks import MLP, normc, recorded_exp
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.config import LOG_STDS

tfd = tfp.distributions


class GaussianPolicy(Policy):
    """N(mean(s), diag(exp(log_std))^2): mean from a tanh MLP whose last layer has columns of
    norm `mean_init_scale`; one state-independent log-std per action dimension, starting at
    0. KL and entropy are analytic.

    With `log_std="fixed"` the log-std is not a trainable variable: it stays at 0 (std 1),
    outside every gradient, Fisher product and step, as it did in the original TRPO (its
    baselines' variable filter left `pi/logstd` out; openai/baselines issue #262)."""

    def __init__(self, obs_dim: int, act_dim: int, obs_normalizer: Optional[RunningMeanStd],
                 seed: int, hidden_sizes: Sequence[int] = (32, 32),
                 mean_init_scale: float = 0.01, log_std: str = "learned",
                 name: str = "gaussian_policy"):
        super().__init__(obs_dim, act_dim, obs_normalizer, seed, name)
        rng = np.random.default_rng(seed)
        self.mean_net = MLP(obs_dim, hidden_sizes, act_dim, tf.tanh, rng,
                            hidden_init=normc(1.0), output_init=normc(mean_init_scale))
        if log_std not in LOG_STDS:
            raise ValueError(f"log_std must be one of {LOG_STDS}, not {log_std!r}")
        self.log_std = tf.Variable(tf.zeros([act_dim]), trainable=log_std == "learned",
                                   name="log_std")

    def _distribution(self, features):
        mean = self.mean_net(features)  # [batch, act_dim]
        return tfd.Independent(tfd.Normal(mean, recorded_exp(self.log_std)),
                               reinterpreted_batch_ndims=1)

    def _deterministic_action(self, features):
        """The mean."""
        return self.mean_net(features)

    def entropy(self, observations):
        return self.distribution(observations).entropy()

    def entropy_at_actions(self, observations, log_probs, log_ratio):
        """The closed form; the actions are not needed."""
        return self.entropy(observations)

    def kl(self, old, observations, actions, log_ratio=None):
        """Analytic KL(old || self) per state; `actions` and `log_ratio` are not needed."""
        return old.distribution(observations).kl_divergence(self.distribution(observations))
