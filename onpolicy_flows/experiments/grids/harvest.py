"""Harvest: a finished run's small files copied into the repository at
results/<grid>/<member>/.

Copied: config.json (it records the package version and the git commit that ran), progress.csv
(its numbers to FLOAT_DIGITS significant digits) and the monitor CSVs, one per environment
stream; a CSV larger than compressed.COMPRESS_ABOVE_BYTES is stored xz-compressed (name + .xz).
Never the checkpoints, never tb/.
A result is written into a temporary folder beside its destination and renamed into place, so
a harvest cut short never leaves a half result that looks complete. The whole results folder
should stay under RESULTS_LIMIT_BYTES; `size_warning` says when it does not.
"""
import csv
import glob
import io
import os
import shutil
import tempfile
from typing import List, Optional

from onpolicy_flows.experiments.compressed import read_text, store, store_text
from onpolicy_flows.experiments.episodes import MONITOR_NAME
from onpolicy_flows.experiments.grids.grid import GridMember
from onpolicy_flows.experiments.runs import PROGRESS_FILE, is_run_dir, timesteps_done
from onpolicy_flows.runs.run_dir import CONFIG_FILE

RESULTS_LIMIT_BYTES = 50 * 2 ** 20
# float32 round-trips through 9 significant digits: the values TensorFlow logs keep every bit,
# float64 ones (returns, times) move by at most 5e-10 of themselves
FLOAT_DIGITS = 9


def result_dir(results_root: str, grid: str, member: str) -> str:
    return os.path.join(results_root, grid, member)


def member_result_dir(results_root: str, grid: str, member: GridMember) -> str:
    """Where `member` of grid `grid` keeps its harvested result: under the grid it is reused
    from, if any (`reuse`)."""
    return result_dir(results_root, member.reused_from or grid, member.name)


def harvested_files(run_dir: str) -> List[str]:
    """The files of `run_dir` a harvest copies: progress.csv, monitor.<i>.csv, config.json
    (last, so that a result is a run directory only once its data are there)."""
    monitors = [path for path in glob.glob(os.path.join(run_dir, "monitor.*.csv"))
                if MONITOR_NAME.match(os.path.basename(path))]
    return [os.path.join(run_dir, PROGRESS_FILE), *sorted(monitors),
            os.path.join(run_dir, CONFIG_FILE)]


def harvest_run(run_dir: str, destination: str) -> List[str]:
    """Copies the harvested files of `run_dir` into `destination` (replacing what was there);
    returns the written paths."""
    parent = os.path.dirname(os.path.abspath(destination))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".harvest-", dir=parent)
    os.chmod(staging, 0o755)  # mkdtemp's folder is private; a result is for every reader
    try:
        for path in harvested_files(run_dir):
            if os.path.basename(path) == PROGRESS_FILE:
                store_text(with_float_digits(read_text(path)), PROGRESS_FILE, staging)
            else:
                store(path, staging)
        written = sorted(os.listdir(staging))
        if os.path.isdir(destination):
            shutil.rmtree(destination)
        os.rename(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [os.path.join(destination, name) for name in written]


def with_float_digits(csv_text: str, digits: int = FLOAT_DIGITS) -> str:
    """The CSV with every number written to `digits` significant digits (the header and any
    other text as they were); rows end in newlines."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows[:1])
    writer.writerows([_number_text(cell, digits) for cell in row] for row in rows[1:])
    return out.getvalue()


def _number_text(cell: str, digits: int) -> str:
    try:
        return format(float(cell), f".{digits}g")
    except ValueError:
        return cell


def is_harvested(destination: str, num_timesteps: int) -> bool:
    """True when `destination` holds a harvested run that reached `num_timesteps`."""
    return is_run_dir(destination) and timesteps_done(destination) >= num_timesteps


def folder_bytes(path: str) -> int:
    """Total size of the files under `path` (0 if it does not exist)."""
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def size_warning(results_root: str, limit: int = RESULTS_LIMIT_BYTES) -> Optional[str]:
    """A warning if the results folder has grown past `limit` bytes, else None."""
    size = folder_bytes(results_root)
    if size <= limit:
        return None
    return (f"warning: {results_root} holds {size / 2 ** 20:.1f} MB, more than the "
            f"{limit / 2 ** 20:.0f} MB the repository should carry")
