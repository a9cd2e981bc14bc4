"""Per-step observation filter of ACKTR (port of baselines' `ZFilter` and `RunningStat`).

Each call first adds the observation to running statistics (Welford's algorithm), then
returns (x - mean) / (std + 1e-8) clipped to [-clip, clip]. The variance is the unbiased
sample variance, or mean^2 while only one observation has been seen, as in the original.

Under MPI every rank filters its own rollouts with its own running statistics; `store()` then
merges what all ranks saw since `load()` into the shared statistics (Chan et al.'s parallel
update, in rank order), so every rank starts the next batch from the same filter.
"""
from typing import Tuple

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi

_STD_EPSILON = 1e-8


class ZFilter(tf.Module):
    """Running standardisation of vectors [dim].

    The statistics live in float64 `tf.Variable`s (so checkpoints carry them). Filtering runs
    once per environment step, so it works on a numpy copy: call `load()` before a batch of
    calls and `store()` after it (the ACKTR learner does this around each rollout batch).
    """

    def __init__(self, dim: int, clip: float = 10.0, name: str = "obs_filter"):
        super().__init__(name=name)
        self.clip = clip
        self.count = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="count")
        self.mean = tf.Variable(tf.zeros([dim], tf.float64), trainable=False, name="mean")
        self.sum_sq_dev = tf.Variable(tf.zeros([dim], tf.float64), trainable=False,
                                      name="sum_sq_dev")  # sum of squared deviations
        self.load()

    def load(self) -> None:
        """Copies the variables into the numpy working state."""
        self._count = int(self.count.numpy())
        self._mean = self.mean.numpy().copy()
        self._sum_sq_dev = self.sum_sq_dev.numpy().copy()
        self._new = _empty_statistics(len(self._mean))  # what this rank sees from now

    def store(self) -> None:
        """Writes the numpy working state back to the variables; with several MPI ranks, the
        statistics at `load()` merged with every rank's new observations (collective)."""
        if mpi.world_size() > 1:
            merged = (int(self.count.numpy()), self.mean.numpy(), self.sum_sq_dev.numpy())
            for new in mpi.allgather(self._new):
                merged = _merge(merged, new)
            self._count, self._mean, self._sum_sq_dev = merged[0], merged[1].copy(), \
                merged[2].copy()
        self.count.assign(self._count)
        self.mean.assign(self._mean)
        self.sum_sq_dev.assign(self._sum_sq_dev)

    def push(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        self._count = _welford(self._mean, self._sum_sq_dev, self._count, x)
        count, mean, sum_sq_dev = self._new
        self._new = (_welford(mean, sum_sq_dev, count, x), mean, sum_sq_dev)

    @property
    def std(self) -> np.ndarray:
        if self._count > 1:
            return np.sqrt(self._sum_sq_dev / (self._count - 1))
        return np.abs(self._mean)

    def __call__(self, x: np.ndarray, update: bool = True) -> np.ndarray:
        """Adds x [dim] to the statistics (if `update`) and returns it standardised, float32."""
        if update:
            self.push(x)
        standardised = (np.asarray(x, np.float64) - self._mean) / (self.std + _STD_EPSILON)
        return np.clip(standardised, -self.clip, self.clip).astype(np.float32)


Statistics = Tuple[int, np.ndarray, np.ndarray]  # count, mean [dim], sum of squared deviations


def _empty_statistics(dim: int) -> Statistics:
    return 0, np.zeros(dim), np.zeros(dim)


def _welford(mean: np.ndarray, sum_sq_dev: np.ndarray, count: int, x: np.ndarray) -> int:
    """Adds x to (count, mean, sum_sq_dev), updating the arrays in place; returns the count."""
    count += 1
    if count == 1:
        mean[...] = x
        return count
    old_mean = mean.copy()
    mean += (x - old_mean) / count
    sum_sq_dev += (x - old_mean) * (x - mean)
    return count


def _merge(first: Statistics, second: Statistics) -> Statistics:
    """The statistics of the union of two sets of observations."""
    count_a, mean_a, m2_a = first
    count_b, mean_b, m2_b = second
    count = count_a + count_b
    if count_b == 0:
        return first
    if count_a == 0:
        return second
    delta = mean_b - mean_a
    mean = mean_a + delta * count_b / count
    return count, mean, m2_a + m2_b + delta ** 2 * count_a * count_b / count
