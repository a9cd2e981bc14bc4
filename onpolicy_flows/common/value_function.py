"""The value function: a tanh MLP on normalised observations (the value branch of baselines'
ppo1 `MlpPolicy`). TRPO fits it by MpiAdam to the TD(lambda) returns (`fit`); PPO trains it
inside its own clipped loss."""
import functools
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from onpolicy_flows.common.compiled import compiled
from onpolicy_flows.common.flat_params import flatten
from onpolicy_flows.common.minibatches import minibatch_indices
from onpolicy_flows.common.mpi_adam import MpiAdam
from onpolicy_flows.common.networks import MLP, normc
from onpolicy_flows.common.running_mean_std import RunningMeanStd


class ValueFunction(tf.Module):
    """V(s): [batch, obs_dim] raw observations -> [batch] values."""

    def __init__(self, obs_dim: int, obs_normalizer: Optional[RunningMeanStd],
                 hidden_sizes: Sequence[int], seed: int, name: str = "value_function"):
        super().__init__(name=name)
        self.obs_normalizer = obs_normalizer
        self.net = MLP(obs_dim, hidden_sizes, 1, tf.tanh, np.random.default_rng(seed),
                       hidden_init=normc(1.0), output_init=normc(1.0))
        observations = tf.TensorSpec([None, obs_dim], tf.float32)
        self.predict = compiled(self.__call__, input_signature=[observations])
        self._fit_minibatches = None  # compiled on the first fit, for its optimizer

    def __call__(self, observations: tf.Tensor) -> tf.Tensor:
        """V(s) [batch] of raw observations [batch, obs_dim], differentiable (`predict` is
        the compiled version)."""
        features = observations
        if self.obs_normalizer is not None:
            features = self.obs_normalizer.normalize(observations)
        return self.net(features)[:, 0]

    def loss_gradient(self, observations, returns):
        """Flat gradient [num_params] of the mean squared error."""
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(observations) - returns))
        return flatten(tape.gradient(loss, self.net.trainable_variables))

    def fit(self, optimizer: MpiAdam, observations: np.ndarray, returns: np.ndarray,
            epochs: int, batch_size: int, stepsize: float, rng: np.random.Generator) -> None:
        """`epochs` passes of Adam over shuffled minibatches (the final partial one dropped);
        gradients averaged over ranks, so every rank must hold the same number of rows. All
        minibatch steps run inside one compiled call."""
        if self._fit_minibatches is None:
            self._fit_minibatches = compiled(functools.partial(self._fit, optimizer))
        batches = np.stack([rows for _ in range(epochs)
                            for rows in minibatch_indices(len(returns), batch_size, rng)])
        self._fit_minibatches(tf.constant(observations, tf.float32),
                              tf.constant(returns, tf.float32),
                              tf.constant(batches, tf.int32),
                              tf.constant(stepsize, tf.float64))

    def _fit(self, optimizer, observations, returns, batches, stepsize):
        """batches [num_minibatches, batch_size] row indices."""
        def minibatch_step(index):
            rows = batches[index]
            optimizer.update(self.loss_gradient(tf.gather(observations, rows),
                                                tf.gather(returns, rows)), stepsize)
            return index + 1

        tf.while_loop(lambda index: index < tf.shape(batches)[0], minibatch_step,
                      [tf.constant(0)])
