"""Observation normalisation with running statistics shared by all MPI ranks.

Port of baselines' `mpi_running_mean_std.RunningMeanStd` as the original TRPO uses it: sums,
sums of squares and counts are all-reduced over ranks, the variance is floored at 1e-2, and
normalised observations are clipped to [-clip, clip]. Other prior counts, floors and epsilons
give the statistics of baselines' VecNormalize (`ppo.vec_normalize`).
"""
import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi

_PRIOR_COUNT = 1e-2  # pseudo-count of the prior (mean 0, variance 1), as in the original
_MIN_VARIANCE = 1e-2


class RunningMeanStd(tf.Module):
    """Running mean and standard deviation of vectors of shape [dim].

    The statistics live in float64 `tf.Variable`s so that compiled policies read them directly
    and checkpoints carry them.
    """

    def __init__(self, dim: int, clip: float = 5.0, prior_count: float = _PRIOR_COUNT,
                 min_variance: float = _MIN_VARIANCE, epsilon: float = 0.0,
                 name: str = "obs_rms"):
        """The statistics start from a prior of mean 0 and variance 1 weighted as
        `prior_count` observations; the std is sqrt(max(variance, min_variance) + epsilon)."""
        super().__init__(name=name)
        self.dim = dim
        self.clip = clip
        self.min_variance = min_variance
        self.epsilon = epsilon
        self.sum = tf.Variable(tf.zeros([dim], tf.float64), trainable=False, name="sum")
        self.sumsq = tf.Variable(tf.fill([dim], tf.constant(prior_count, tf.float64)),
                                 trainable=False, name="sumsq")
        self.count = tf.Variable(tf.constant(prior_count, tf.float64), trainable=False,
                                 name="count")

    def update(self, batch: np.ndarray) -> None:
        """Adds a local batch [n, dim]; sums over all ranks (every rank must call this)."""
        batch = np.asarray(batch, dtype=np.float64).reshape(-1, self.dim)
        local = np.concatenate([batch.sum(axis=0), np.square(batch).sum(axis=0), [len(batch)]])
        total = mpi.allreduce_sum(local)
        self.sum.assign_add(total[:self.dim])
        self.sumsq.assign_add(total[self.dim:2 * self.dim])
        self.count.assign_add(total[-1])

    @property
    def mean(self) -> tf.Tensor:
        """[dim] float64."""
        return self.sum / self.count

    @property
    def std(self) -> tf.Tensor:
        """[dim] float64, at least sqrt(min_variance + epsilon) (by default sqrt(1e-2))."""
        variance = self.sumsq / self.count - tf.square(self.mean)
        return tf.sqrt(tf.maximum(variance, self.min_variance) + self.epsilon)

    def normalize(self, observations: tf.Tensor) -> tf.Tensor:
        """[..., dim] float32 -> clipped standardised observations, float32."""
        mean = tf.cast(self.mean, tf.float32)
        std = tf.cast(self.std, tf.float32)
        return tf.clip_by_value((observations - mean) / std, -self.clip, self.clip)
