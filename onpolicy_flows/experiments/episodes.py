"""The one metric every algorithm is compared on: training-episode returns from the monitor
CSVs, on the env-step axis, smoothed by one rule.

Every environment stream of a run (each MPI rank, each of a rank's environments; ACKTR's one
environment) writes `monitor.<i>.csv` (or, harvested, `monitor.<i>.csv.xz` or `.gz`): a JSON
header line starting with '#', then `r,l,t` rows, one per finished episode (return, length,
seconds).
An episode is placed on the env-step axis at the steps its stream had taken when it ended
(the cumulative sum of that stream's lengths) times the number of streams: the run's total
env steps at that moment, since the streams step in lock-step (TRPO) or there is one (ACKTR).

Smoothing: the step budget is cut into NUM_BINS equal bins and each bin takes the mean
return of the episodes that ended in it (a bin without one repeats the previous bin's value).
The final return is the mean return of the episodes that ended in the last FINAL_FRACTION of
the budget. The same rule for TRPO, ACKTR and PPO, so their curves line up.

A resumed run appends to its monitor files the episodes after its last checkpoint a second
time (the ones it had played before it was stopped stay in the file); those few episodes then
shift the later ones on the step axis by up to one checkpoint interval.
"""
import csv
import glob
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from onpolicy_flows.experiments.compressed import open_text, plain_name

MONITOR_GLOB = "monitor.*.csv*"
MONITOR_NAME = re.compile(r"monitor\.(\d+)\.csv$")
NUM_BINS = 100
FINAL_FRACTION = 0.05


@dataclass(frozen=True)
class Episodes:
    """All finished training episodes of a run, sorted by `ends` [episodes]: the run's total
    env steps when each ended; `returns` [episodes]: their undiscounted returns; `lengths`
    [episodes]: their env steps (None where not known)."""
    ends: np.ndarray
    returns: np.ndarray
    lengths: Optional[np.ndarray] = None


def monitor_paths(run_dir: str) -> List[str]:
    """The run's monitor files (plain or compressed), one per stream, by stream number."""
    found = {}
    for path in glob.glob(os.path.join(run_dir, MONITOR_GLOB)):
        match = MONITOR_NAME.match(plain_name(path))
        if match:
            found[int(match.group(1))] = path
    return [found[stream] for stream in sorted(found)]


def read_monitor(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """(returns [episodes], lengths [episodes]) of one monitor file, in the order played."""
    with open_text(path) as file:
        rows = [row for row in csv.DictReader(line for line in file
                                              if not line.startswith("#"))]
    returns = np.array([float(row["r"]) for row in rows])
    lengths = np.array([int(float(row["l"])) for row in rows])
    return returns, lengths


def load_episodes(run_dir: str) -> Episodes:
    """Every stream's episodes of `run_dir`, placed on the total env-step axis."""
    paths = monitor_paths(run_dir)
    ends, returns, lengths = [], [], []
    for path in paths:
        stream_returns, stream_lengths = read_monitor(path)
        ends.append(np.cumsum(stream_lengths) * len(paths))
        returns.append(stream_returns)
        lengths.append(stream_lengths)
    ends, returns, lengths = (np.concatenate(parts) if parts else np.zeros(0)
                              for parts in (ends, returns, lengths))
    order = np.argsort(ends, kind="stable")
    return Episodes(ends[order].astype(float), returns[order], lengths[order].astype(float))


def bin_edges(budget: float, num_bins: int = NUM_BINS) -> np.ndarray:
    """[num_bins + 1] equal step bins over [0, budget]."""
    return np.linspace(0.0, budget, num_bins + 1)


def binned_returns(episodes: Episodes, budget: float, num_bins: int = NUM_BINS) -> np.ndarray:
    """[num_bins] mean return of the episodes ending in each bin of `bin_edges` (episodes
    past the budget are left out); an empty bin takes the previous bin's value, NaN before
    the first episode."""
    edges = bin_edges(budget, num_bins)
    inside = episodes.ends <= budget
    # [episodes inside]: bin i holds the ends in (edges[i], edges[i + 1]]
    bins = np.clip(np.searchsorted(edges, episodes.ends[inside], side="left") - 1, 0,
                   num_bins - 1)
    sums = np.bincount(bins, weights=episodes.returns[inside], minlength=num_bins)
    counts = np.bincount(bins, minlength=num_bins)
    values = np.full(num_bins, np.nan)
    last = np.nan
    for index in range(num_bins):
        last = sums[index] / counts[index] if counts[index] else last
        values[index] = last
    return values


def bin_centres(budget: float, num_bins: int = NUM_BINS) -> np.ndarray:
    """[num_bins] the env steps at the middle of each bin."""
    edges = bin_edges(budget, num_bins)
    return 0.5 * (edges[:-1] + edges[1:])


def final_window(episodes: Episodes, budget: float,
                 fraction: float = FINAL_FRACTION) -> np.ndarray:
    """[episodes] bool: the episodes ending in the last `fraction` of the budget,
    ((1 - fraction) budget, budget]."""
    return (episodes.ends > (1.0 - fraction) * budget) & (episodes.ends <= budget)


def final_return(episodes: Episodes, budget: float,
                 fraction: float = FINAL_FRACTION) -> float:
    """Mean return of the episodes of `final_window`; NaN if none."""
    window = final_window(episodes, budget, fraction)
    return float(episodes.returns[window].mean()) if window.any() else float("nan")


def final_length(episodes: Episodes, budget: float,
                 fraction: float = FINAL_FRACTION) -> float:
    """Mean length (env steps) of the episodes of `final_window`; NaN if none or unknown.
    Beside the final return it tells apart, e.g., a policy that learnt to end its episodes
    early from one that runs them to the time limit at a low reward."""
    window = final_window(episodes, budget, fraction)
    if episodes.lengths is None or not window.any():
        return float("nan")
    return float(episodes.lengths[window].mean())
