"""Per-step observation filter of ACKTR (port of baselines' `ZFilter` and `RunningStat`).

Each call first adds the observation to running statistics (Welford's algorithm), then
returns (x - mean) / (std + 1e-8) clipped to [-clip, clip]. The variance is the unbiased
sample variance, or mean^2 while only one observation has been seen, as in the original.
"""
import numpy as np
import tensorflow as tf

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

    def store(self) -> None:
        """Writes the numpy working state back to the variables."""
        self.count.assign(self._count)
        self.mean.assign(self._mean)
        self.sum_sq_dev.assign(self._sum_sq_dev)

    def push(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        self._count += 1
        if self._count == 1:
            self._mean[...] = x
            return
        old_mean = self._mean.copy()
        self._mean += (x - old_mean) / self._count
        self._sum_sq_dev += (x - old_mean) * (x - self._mean)

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
