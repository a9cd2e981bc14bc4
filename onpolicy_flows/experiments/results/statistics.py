"""Statistics over seeds with rliable (Agarwal et al., 2021): means and interquartile means
with stratified-bootstrap 95% confidence intervals, the probability of improvement, and the
permutation test's p-value of an ordering.

Scores follow rliable's layout: [runs, tasks] (one score per seed and task), or
[runs, tasks, points] for curves. Every bootstrap uses BOOTSTRAP_REPS resamples drawn from
NumPy's global generator seeded with BOOTSTRAP_SEED (and restored afterwards), and a sampled
permutation test draws its relabelings from a generator of its own with the same seed, so the
results page is the same each time it is generated from the same results.
"""
import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Tuple

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # arch's and seaborn's import-time deprecation notices
    from rliable import library, metrics

BOOTSTRAP_REPS = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
MAX_EXACT_LABELINGS = 100_000  # per task: 9 v 9 is exact (48,620), 10 v 10 sampled
SAMPLED_LABELINGS = 100_000


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its CONFIDENCE bootstrap interval [low, high]."""
    value: float
    low: float
    high: float


def _interval_estimates(scores, function) -> Tuple[np.ndarray, np.ndarray]:
    """rliable's stratified bootstrap of `function(scores)` -> (points [k], intervals [2, k]);
    `scores` an array [runs, tasks, ...] or a list of them for independent samples."""
    global_state = np.random.get_state()  # rliable resamples with NumPy's global generator
    np.random.seed(BOOTSTRAP_SEED)
    try:
        points, intervals = library.get_interval_estimates(
            {"scores": scores}, function, reps=BOOTSTRAP_REPS,
            confidence_interval_size=CONFIDENCE)
    finally:
        np.random.set_state(global_state)
    return np.asarray(points["scores"]), np.asarray(intervals["scores"])


def mean_band(curves: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """curves [runs, points] -> (mean, low, high) [points] each: the mean over runs and its
    bootstrap interval at each point (low = high = mean for a single run)."""
    if len(curves) == 1:
        return curves[0], curves[0], curves[0]
    points, intervals = _interval_estimates(curves[:, None, :],
                                            lambda scores: np.mean(scores[:, 0, :], axis=0))
    return points, intervals[0], intervals[1]


def final_estimates(finals: np.ndarray) -> Tuple[Estimate, Estimate]:
    """finals [runs] -> (mean, interquartile mean), each with its bootstrap interval."""
    scores = np.asarray(finals, dtype=float)[:, None]  # [runs, 1 task]
    points, intervals = _interval_estimates(
        scores, lambda x: np.array([metrics.aggregate_mean(x), metrics.aggregate_iqm(x)]))
    mean, iqm = (Estimate(float(points[i]), float(intervals[0, i]), float(intervals[1, i]))
                 for i in range(2))
    return mean, iqm


def probability_of_improvement(better: np.ndarray, worse: np.ndarray) -> Estimate:
    """P(X > Y) of a score X of `better` [runs_x, tasks] over a score Y of `worse`
    [runs_y, tasks] of the same task, averaged over tasks (ties count half), with the
    bootstrap interval of runs resampled independently within each task."""
    point, interval = _interval_estimates(
        [np.asarray(better, dtype=float), np.asarray(worse, dtype=float)],
        lambda x, y: np.array([share_of_pairs_above(x, y)]))
    return Estimate(float(point[0]), float(interval[0, 0]), float(interval[1, 0]))


def share_of_pairs_above(better: np.ndarray, worse: np.ndarray) -> float:
    """P(X > Y) over all pairs of a run of `better` [runs_x, tasks] and a run of `worse`
    [runs_y, tasks] on the same task, ties half, averaged over tasks: the statistic of
    rliable's metrics.probability_of_improvement (its Mann-Whitney U / (runs_x runs_y) per
    task), computed in one pass over the pairs, which the bootstrap calls thousands of times
    per check."""
    pairs_above = better[:, None, :] > worse[None, :, :]  # [runs_x, runs_y, tasks]
    pairs_tied = better[:, None, :] == worse[None, :, :]
    return float(np.mean(pairs_above + 0.5 * pairs_tied))


def permutation_p_value(better: np.ndarray, worse: np.ndarray) -> float:
    """One-sided p-value of the permutation test of "A ends above B" on `better`
    [runs_a, tasks] and `worse` [runs_b, tasks]: the share of relabelings of the runs (within
    each task, each side keeping its number of runs) whose P(A > B) (`share_of_pairs_above`'s
    statistic, ties half) is at least the observed one. Relabelings of different tasks are
    independent, so the statistic's distribution over tasks is the convolution of each
    task's (`_relabelled_wins`): exact where a task has at most MAX_EXACT_LABELINGS
    relabelings, estimated beyond from SAMPLED_LABELINGS random ones and the observed one
    (on one task this keeps the sampled test valid: p never below 1 / (SAMPLED_LABELINGS +
    1); convolved over several sampled tasks that bound is approximate). With n
    runs a side on one task the exact test cannot go below 1 / C(2n, n): 0.05 at 3 v 3,
    0.014 at 4 v 4, 0.004 at 5 v 5."""
    better, worse = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
    runs_a, runs_b = len(better), len(worse)
    pooled = np.concatenate([better, worse])  # [runs_a + runs_b, tasks]
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    distribution, observed = np.ones(1), 0
    for column in pooled.T:
        wins, observed_wins = _relabelled_wins(column, runs_a, rng)
        distribution = np.convolve(distribution, np.bincount(
            wins, minlength=2 * runs_a * runs_b + 1) / len(wins))
        observed += observed_wins
    return float(min(1.0, distribution[observed:].sum()))


def _relabelled_wins(column: np.ndarray, runs_a: int, rng: np.random.Generator
                     ) -> Tuple[np.ndarray, int]:
    """For one task's scores `column` [runs], the first `runs_a` being A's: 2 x (pairs where a
    run labelled A ends above one labelled B) + ties, under every relabeling (or under
    SAMPLED_LABELINGS random ones and the observed one), and its observed value. That is
    2 x Mann-Whitney's U, 2 x the sum of A's mid-ranks less runs_a (runs_a + 1)."""
    _, position, tied = np.unique(column, return_inverse=True, return_counts=True)
    twice_ranks = (2 * np.cumsum(tied) - tied + 1)[position]  # a tie's ranks share their mean
    if math.comb(len(column), runs_a) <= MAX_EXACT_LABELINGS:
        chosen = np.array(list(itertools.combinations(range(len(column)), runs_a)))
    else:
        shuffled = np.argsort(rng.random((SAMPLED_LABELINGS, len(column))), axis=1)
        chosen = np.concatenate([shuffled[:, :runs_a], np.arange(runs_a)[None]])
    wins = twice_ranks[chosen].sum(axis=1) - runs_a * (runs_a + 1)
    return wins, int(twice_ranks[:runs_a].sum() - runs_a * (runs_a + 1))
