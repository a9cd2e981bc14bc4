"""ACKTR's value function (port of the original's `NeuralNetValueFunction`).

V is an ELU MLP on features [filtered observation pair, action-distribution statistics,
step index / 10, 1], fitted to the value targets by K-FAC on the full batch (25 steps per
iteration). Its Fisher statistics come from the sampled loss mean((V - stop(V + n))^2),
n ~ N(0, 1): the Gaussian predictive distribution of unit variance.
"""
from typing import Sequence

import numpy as np
import tensorflow as tf

from onpolicy_flows.acktr.kfac import KFACOptimizer, dense_layers
from onpolicy_flows.common.compiled import compiled
from onpolicy_flows.common.networks import MLP, normc

TIME_FEATURE_SCALE = 10.0  # the step index enters the features divided by 10


def value_features(observations: np.ndarray, statistics: np.ndarray,
                   step_indices: np.ndarray) -> np.ndarray:
    """[T, feature_dim] float32 from observations [T, obs_dim], action-distribution
    statistics [T, stat_dim] and the index of each step in its episode [T]."""
    steps = np.asarray(step_indices, np.float32)[:, None] / TIME_FEATURE_SCALE
    return np.concatenate([observations, statistics, steps, np.ones_like(steps)],
                          axis=1).astype(np.float32)


class KFACValueFunction(tf.Module):
    """V: features [batch, feature_dim] -> values [batch]; owns its K-FAC optimizer."""

    def __init__(self, feature_dim: int, hidden_sizes: Sequence[int], seed: int,
                 iterations: int, weight_decay: float, optimizer_settings: dict,
                 name: str = "value_function"):
        """`optimizer_settings`: KFACOptimizer's keyword arguments (learning_rate, momentum,
        clip_kl, damping, stats_decay, kfac_update, cold_iter)."""
        super().__init__(name=name)
        self.iterations = iterations
        self.weight_decay = weight_decay
        self.net = MLP(feature_dim, hidden_sizes, 1, tf.nn.elu, np.random.default_rng(seed),
                       hidden_init=normc(1.0), output_init=normc(1.0))
        self.noise = tf.random.Generator.from_seed(seed, alg="philox")
        self.optimizer = KFACOptimizer(dense_layers(self.net), self.net.trainable_variables,
                                       name="vf_kfac", **optimizer_settings)
        features = tf.TensorSpec([None, feature_dim], tf.float32)
        self.predict = compiled(self._predict, input_signature=[features])
        self.update = compiled(
            self._update, input_signature=[features, tf.TensorSpec([None], tf.float32)])

    def _predict(self, features):
        return self.net(features)[:, 0]

    def _losses(self, features, targets):
        """(loss, sampled_loss): mean squared error plus L2 on the kernels, and the
        sampled loss whose gradients give the Fisher statistics."""
        values = self._predict(features)
        l2 = tf.add_n([tf.reduce_sum(tf.square(layer.kernel))
                       for layer in dense_layers(self.net)]) / 2.0
        loss = tf.reduce_mean(tf.square(values - targets)) + self.weight_decay * l2
        sampled_targets = tf.stop_gradient(values + self.noise.normal(tf.shape(values)))
        sampled_loss = tf.reduce_mean(tf.square(values - sampled_targets))
        return loss, sampled_loss

    def _update(self, features, targets):
        return self.optimizer.minimize(lambda: self._losses(features, targets))["loss"]

    def fit(self, features: np.ndarray, targets: np.ndarray) -> None:
        """`iterations` K-FAC steps on the whole batch."""
        features = tf.constant(features, tf.float32)
        targets = tf.constant(targets, tf.float32)
        for _ in range(self.iterations):
            self.update(features, targets)
