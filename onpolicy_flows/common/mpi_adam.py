"""Adam whose gradients are averaged over MPI ranks (port of baselines' `MpiAdam`), with
optional clipping of the averaged gradient's global norm (as ppo2 clips before Adam)."""
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi
from onpolicy_flows.common.flat_params import FlatParameters


class MpiAdam(tf.Module):
    """Adam on a flat view of `variables`; every rank applies the same averaged gradient.

    With `max_grad_norm`, the rank-averaged gradient is rescaled to that norm when its norm
    (over all variables together, like `tf.clip_by_global_norm`) is larger.
    Moments and step count are variables, so checkpoints carry the optimiser state.
    """

    def __init__(self, variables: Sequence[tf.Variable], beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-8,
                 max_grad_norm: Optional[float] = None, name: str = "mpi_adam"):
        super().__init__(name=name)
        self.params = FlatParameters(variables)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.max_grad_norm = max_grad_norm
        self.first_moment = tf.Variable(tf.zeros([self.params.size], tf.float64),
                                        trainable=False, name="m")
        self.second_moment = tf.Variable(tf.zeros([self.params.size], tf.float64),
                                         trainable=False, name="v")
        self.step_count = tf.Variable(0, dtype=tf.int64, trainable=False, name="t")

    def update(self, local_gradient: tf.Tensor, stepsize: tf.Tensor) -> None:
        """One Adam step with the rank-averaged gradient [size] of a loss to minimise.

        Collective. Callable eagerly or inside a compiled function: the all-reduce runs as a
        `tf.numpy_function`, so a whole loop of minibatch steps can be one compiled call.
        """
        gradient = tf.numpy_function(mpi.allreduce_mean, [tf.cast(local_gradient, tf.float64)],
                                     tf.float64, stateful=True)
        gradient = tf.reshape(gradient, [self.params.size])
        if self.max_grad_norm is not None:
            gradient = gradient * self.max_grad_norm / tf.maximum(tf.norm(gradient),
                                                                  self.max_grad_norm)
        t = tf.cast(self.step_count.assign_add(1), tf.float64)
        m = self.first_moment.assign(self.beta1 * self.first_moment + (1 - self.beta1) * gradient)
        v = self.second_moment.assign(
            self.beta2 * self.second_moment + (1 - self.beta2) * tf.square(gradient))
        stepsize = tf.cast(stepsize, tf.float64)
        corrected_step = stepsize * tf.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        step = tf.cast(-corrected_step * m / (tf.sqrt(v) + self.epsilon), tf.float32)
        for variable, piece in zip(self.params.variables, self.params.unflatten(step)):
            variable.assign_add(piece)

    def sync(self) -> None:
        """Copies rank 0's parameters to every rank (nothing to do on one rank: its first
        read and write, a part of start-up, wait until they are needed)."""
        if mpi.world_size() > 1:
            self.params.set(mpi.broadcast(self.params.get()).astype(np.float32))
