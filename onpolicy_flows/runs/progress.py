"""A run's counters as variables, so that checkpoints carry them and a resumed run continues
counting where it stopped."""
import collections
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi

RATE_WINDOW = 10  # iterations whose speed estimates the time left


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
        # (seconds, env steps) of the last iterations; an iteration may count 0 steps
        # (--timestep-count finished-episodes when no episode ends)
        self._recent = collections.deque(maxlen=RATE_WINDOW)
        self._session_iterations = 0  # since start_clock

    def start_clock(self, since: Optional[float] = None) -> None:
        """Starts timing from `since` (a time.time(); default now): at the start of training
        and after a restore, so that the first iteration's time includes building the
        learner (tracing and compiling its functions)."""
        self._last_tick = time.time() if since is None else since
        self._recent.clear()
        self._session_iterations = 0

    def finish_iteration(self, timesteps: int) -> None:
        """Counts one iteration of `timesteps` env steps (all ranks) and its wall-clock time."""
        now = time.time()
        seconds = now - self._last_tick
        self.elapsed_seconds.assign_add(seconds)
        self._last_tick = now
        self.iteration.assign_add(1)
        self.timesteps.assign_add(timesteps)
        self._recent.append((seconds, timesteps))
        self._session_iterations += 1

    def seconds_left(self, total_timesteps: int) -> Optional[float]:
        """Estimated wall-clock seconds until `total_timesteps`, from the seconds per step
        over the last iterations (not the first one since the clock started, which includes
        tracing and compilation); None before a second iteration, or while none of them
        counted a step."""
        recent = list(self._recent)
        if self._session_iterations == len(recent):  # the first one is still in the window
            recent = recent[1:]
        steps = sum(timesteps for _, timesteps in recent)
        if not steps:
            return None
        seconds_per_step = sum(seconds for seconds, _ in recent) / steps
        return max(total_timesteps - int(self.timesteps), 0) * seconds_per_step

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


TIMESTEP_COUNTS = ("collected", "finished-episodes")


def count_segment_iteration(progress: Progress, segment, count: str = "collected") -> int:
    """Counts one iteration of fixed-length segments (`envs.rollout.Segment`, one per rank)
    in `progress`: every rank's finished episodes, and as its timesteps (TIMESTEP_COUNTS)
    every step collected, or the lengths of the episodes finished in it (the original
    trpo_mpi's count, which leaves out each segment's unfinished episode). Returns the number
    of episodes all ranks finished in it. Collective."""
    episodes = mpi.allgather((segment.episode_lengths, segment.episode_returns))
    lengths = [length for rank_lengths, _ in episodes for length in rank_lengths]
    returns = [ret for _, rank_returns in episodes for ret in rank_returns]
    progress.add_episodes(returns, lengths)
    progress.finish_iteration(segment.num_steps * mpi.world_size() if count == "collected"
                              else int(sum(lengths)))
    return len(lengths)


def record_progress(record, progress: Progress, episodes_this_iteration: int) -> None:
    """Calls `record(key, value)` for the original trpo_mpi's episode and counter keys:
    EpLenMean and EpRewMean (over the progress window), EpThisIter, EpisodesSoFar,
    TimestepsSoFar, TimeElapsed (seconds), and Iteration."""
    record("EpLenMean", progress.mean_recent_length())
    record("EpRewMean", progress.mean_recent_return())
    record_counters(record, progress, episodes_this_iteration)


def record_counters(record, progress: Progress, episodes_this_iteration: int) -> None:
    """Calls `record(key, value)` for the counters every learner logs last: EpThisIter,
    EpisodesSoFar, TimestepsSoFar, TimeElapsed (seconds) and Iteration."""
    record("EpThisIter", episodes_this_iteration)
    record("EpisodesSoFar", int(progress.episodes))
    record("TimestepsSoFar", int(progress.timesteps))
    record("TimeElapsed", float(progress.elapsed_seconds))
    record("Iteration", int(progress.iteration))
