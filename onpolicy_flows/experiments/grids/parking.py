"""Parked runs: an unfinished grid member's run directory packed into one small archive that
can be committed, for machines whose logs/ does not outlive the session (a cloud session, a
CI runner, a node's scratch disk).

`python -m run.reproduce GRID --park` writes, for each member with a stopped run that has a
checkpoint, PARKED_ROOT/GRID/NAME.tar.xz holding one folder, the run directory's name, with
its progress.csv, monitor CSVs, latest checkpoint alone (its index rewritten to name just that
one; no tb/, no older checkpoints) and config.json last: 0.1 to 1 MB for a humanoid. Where a
member's archive has logged more steps than its live run, or it has no live run,
run.reproduce unpacks the archive into logs/grids/GRID/NAME/ and resumes it; the archive is
deleted once the member is harvested.
"""
import io
import os
import shutil
import tarfile
import tempfile
import time
from typing import List, Tuple

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.episodes import MONITOR_NAME
from onpolicy_flows.experiments.runs import (
    CHECKPOINT_STATE,
    PROGRESS_FILE,
    TIMESTEP_KEY,
    last_logged,
    progress_columns,
)
from onpolicy_flows.runs.run_dir import CONFIG_FILE

PARKED_ROOT = "logs/parked"
ARCHIVE_SUFFIX = ".tar.xz"
CHECKPOINT_SUBDIR = os.path.dirname(CHECKPOINT_STATE)
STAGING_PREFIX = ".park-"  # a half-written archive, or a half-unpacked run
# tarfile's own checks where this Python has them (3.10.12, 3.11.4 on); _run_folder's always
SAFE_EXTRACTION = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def archive_path(parked_root: str, grid: str, member: str) -> str:
    """Where member `member` of grid `grid` is parked."""
    return os.path.join(parked_root, grid, member + ARCHIVE_SUFFIX)


def latest_checkpoint_name(run_dir: str) -> str:
    """The prefix of the latest checkpoint (`ckpt-<iteration>`) its index names, once both
    its files are there; UserError otherwise."""
    index = os.path.join(run_dir, CHECKPOINT_STATE)
    if os.path.isfile(index):
        with open(index) as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() == "model_checkpoint_path":
                    latest = os.path.basename(value.strip().strip('"'))
                    if _checkpoint_files(run_dir, latest):
                        return latest
    raise UserError(f"{run_dir} has no complete checkpoint to park")


def _checkpoint_files(run_dir: str, prefix: str) -> List[str]:
    """The index and data files of checkpoint `prefix`, relative to `run_dir`; [] unless
    both kinds are there."""
    names = sorted(name for name in os.listdir(os.path.join(run_dir, CHECKPOINT_SUBDIR))
                   if name.startswith(prefix + "."))
    kinds = {name[len(prefix) + 1:].split("-")[0] for name in names}
    return [os.path.join(CHECKPOINT_SUBDIR, name) for name in names] \
        if {"index", "data"} <= kinds else []


def parked_files(run_dir: str, latest: str) -> List[str]:
    """The files of `run_dir` an archive keeps, relative to it, in their order: progress.csv
    first (`parked_run` reads it without unpacking the rest), the monitor CSVs, checkpoint
    `latest`'s files, config.json last (a run directory is one once it is there)."""
    monitors = sorted(name for name in os.listdir(run_dir) if MONITOR_NAME.match(name))
    return [PROGRESS_FILE, *monitors, *_checkpoint_files(run_dir, latest), CONFIG_FILE]


def checkpoint_index(latest: str, written: float) -> str:
    """A checkpoint index naming `latest` alone, saved at `written` (seconds since the
    epoch), which tf.train.CheckpointManager will delete in its turn like any other."""
    return (f'model_checkpoint_path: "{latest}"\n'
            f'all_model_checkpoint_paths: "{latest}"\n'
            f"all_model_checkpoint_timestamps: {written}\n"
            f"last_preserved_timestamp: {written - 1}\n")


def park(run_dir: str, destination: str) -> int:
    """Packs `run_dir` (see `parked_files`) into the archive `destination`, replacing it
    only once the new one is whole; returns its size in bytes."""
    latest = latest_checkpoint_name(run_dir)
    top = os.path.basename(os.path.normpath(run_dir))
    folder = os.path.dirname(os.path.abspath(destination))
    os.makedirs(folder, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=folder)
    os.close(handle)
    try:
        with tarfile.open(staging, "w:xz") as archive:
            *files, config = parked_files(run_dir, latest)
            for name in files:
                archive.add(os.path.join(run_dir, name), arcname=f"{top}/{name}")
            _add_text(archive, f"{top}/{CHECKPOINT_STATE}",
                      checkpoint_index(latest, time.time()))
            archive.add(os.path.join(run_dir, config), arcname=f"{top}/{config}")
        os.chmod(staging, 0o644)
        os.replace(staging, destination)
    except BaseException:
        os.remove(staging)
        raise
    return os.path.getsize(destination)


def _add_text(archive: tarfile.TarFile, name: str, text: str) -> None:
    """Adds a file `name` holding `text` to `archive`."""
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    archive.addfile(info, io.BytesIO(data))


def parked_run(archive: str) -> Tuple[str, float]:
    """A parked run's directory name and the last TimestepsSoFar its progress.csv logged (0
    if none), read without unpacking the rest."""
    with tarfile.open(archive, "r:xz") as packed:
        for entry in packed:
            top = _run_folder(archive, [entry])
            if entry.name == f"{top}/{PROGRESS_FILE}":
                lines = io.TextIOWrapper(packed.extractfile(entry), newline="")
                return top, last_logged(progress_columns(lines), TIMESTEP_KEY)
    raise UserError(f"{archive} holds no {PROGRESS_FILE}: not a parked run")


def _run_folder(archive: str, entries: List[tarfile.TarInfo]) -> str:
    """The one folder the entries lie in, each a plain file at most two levels below it;
    UserError for anything else (several folders, links, absolute or upward paths)."""
    tops = set()
    for entry in entries:
        parts = entry.name.split("/")
        if not entry.isfile() or not 2 <= len(parts) <= 3 or \
                any(part in ("", ".", "..") for part in parts):
            raise UserError(f"{archive}: {entry.name!r} is not a parked run's file")
        tops.add(parts[0])
    if len(tops) != 1:
        raise UserError(f"{archive} holds {len(tops)} folders, not one run directory")
    return tops.pop()


def unpark(archive: str, member_dir: str) -> str:
    """Unpacks a parked run into `member_dir` (into a staging folder first, renamed into
    place once whole); returns its run directory."""
    os.makedirs(member_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=member_dir)
    try:
        with tarfile.open(archive, "r:xz") as packed:
            top = _run_folder(archive, packed.getmembers())
            packed.extractall(staging, **SAFE_EXTRACTION)
        run_dir = os.path.join(member_dir, top)
        os.rename(os.path.join(staging, top), run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run_dir


def discard(archive: str) -> bool:
    """Deletes a parked archive if there is one; returns whether there was."""
    if os.path.isfile(archive):
        os.remove(archive)
        return True
    return False
