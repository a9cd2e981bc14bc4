"""A run's counters as variables, so that checkpoints carry them and a resumed run continues
counting where it stopped."""
import time

import numpy as np
import tensorflow as tf


class Progress(tf.Module):
    """Iterations, env steps and episodes so far (all ranks), and a window of the most recent
    episodes' returns and lengths (for EpRewMean / EpLenMean)."""

    def __init__(self, window: int = 40):
        super().__init__(name="progress")
        self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
        self.timesteps = tf.Variable(0, dtype=tf.int64, trainable=False, name="timesteps")
        self.episodes = tf.Variable(0, dtype=tf.int64, trainable=False, name="episodes")
        self.recent_returns = tf.Variable(np.full(window, np.nan), dtype=tf.float64,
                                          trainable=False, name="recent_returns")
        self.recent_lengths = tf.Variable(np.full(window, np.nan), dtype=tf.float64,
                                          trainable=False, name="recent_lengths")
        self.elapsed_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False,
                                           name="elapsed_seconds")
        self._last_tick = time.time()

    def start_clock(self) -> None:
        """Starts timing from now (at the start of training and after a restore)."""
        self._last_tick = time.time()

    def finish_iteration(self, timesteps: int) -> None:
        """Counts one iteration of `timesteps` env steps (all ranks) and its wall-clock time."""
        now = time.time()
        self.elapsed_seconds.assign_add(now - self._last_tick)
        self._last_tick = now
        self.iteration.assign_add(1)
        self.timesteps.assign_add(timesteps)

    def add_episodes(self, returns, lengths) -> None:
        """Counts finished episodes and keeps the last `window` of them."""
        self.episodes.assign_add(len(returns))
        for window, new in ((self.recent_returns, returns), (self.recent_lengths, lengths)):
            kept = np.concatenate([window.numpy(), np.asarray(new, np.float64)])
            window.assign(kept[-window.shape[0]:])

    def mean_recent_return(self) -> float:
        return _nanmean(self.recent_returns.numpy())

    def mean_recent_length(self) -> float:
        return _nanmean(self.recent_lengths.numpy())


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")
