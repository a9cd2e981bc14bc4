"""Parked runs: an unfinished grid member's run directory packed into one small archive that
can be committed, for machines whose logs/ does not outlive the session (a cloud session, a
CI runner, a node's scratch disk).

`python -m run.reproduce GRID --park` writes, for each member with a stopped run that has a
checkpoint, PARKED_ROOT/GRID/NAME.tar.xz: its config.json, progress.csv, monitor CSVs and
its latest checkpoint alone (the index rewritten to name it; no tb/, no older checkpoints),
about 0.1 to 1 MB. Where a member has no live run but a parked one, run.reproduce unpacks it
into logs/grids/GRID/NAME/ and resumes it. The archive is deleted once its member is
harvested. A live run always wins over a parked one: the archive is only read where logs/
has no run of the member.
"""
import io
import os
import tarfile
import tempfile
from typing import List, Optional, Tuple

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


def archive_path(parked_root: str, grid: str, member: str) -> str:
    return os.path.join(parked_root, grid, member + ARCHIVE_SUFFIX)


def latest_checkpoint_name(run_dir: str) -> str:
    """The prefix of the latest checkpoint (`ckpt-<iteration>`) its index names; UserError if
    there is none."""
    index = os.path.join(run_dir, CHECKPOINT_STATE)
    if os.path.isfile(index):
        with open(index) as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() == "model_checkpoint_path":
                    return os.path.basename(value.strip().strip('"'))
    raise UserError(f"{run_dir} has no checkpoint to park")


def parked_files(run_dir: str) -> List[str]:
    """The files of `run_dir` an archive keeps, relative to it: progress.csv first (so that
    `parked_timesteps` reads it without unpacking the rest), the monitor CSVs, the latest
    checkpoint's data and index files, config.json."""
    latest = latest_checkpoint_name(run_dir)
    checkpoint_dir = os.path.join(run_dir, CHECKPOINT_SUBDIR)
    checkpoint_files = sorted(os.path.join(CHECKPOINT_SUBDIR, name)
                              for name in os.listdir(checkpoint_dir)
                              if name.startswith(latest + "."))
    monitors = sorted(name for name in os.listdir(run_dir) if MONITOR_NAME.match(name))
    return [PROGRESS_FILE, *monitors, *checkpoint_files, CONFIG_FILE]


def park(run_dir: str, destination: str) -> int:
    """Packs `run_dir` (see `parked_files`) into the archive `destination`, replacing it
    atomically; returns the archive's size in bytes."""
    top = os.path.basename(os.path.normpath(run_dir))
    index_text = (f'model_checkpoint_path: "{latest_checkpoint_name(run_dir)}"\n'
                  f'all_model_checkpoint_paths: "{latest_checkpoint_name(run_dir)}"\n')
    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".park-", dir=os.path.dirname(
        os.path.abspath(destination)))
    os.close(handle)
    try:
        with tarfile.open(staging, "w:xz") as archive:
            for name in parked_files(run_dir):
                archive.add(os.path.join(run_dir, name), arcname=os.path.join(top, name))
            _add_text(archive, os.path.join(top, CHECKPOINT_STATE), index_text)
        os.chmod(staging, 0o644)
        os.replace(staging, destination)
    except BaseException:
        os.remove(staging)
        raise
    return os.path.getsize(destination)


def _add_text(archive: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    archive.addfile(info, io.BytesIO(data))


def parked_run(archive: str) -> Tuple[str, float]:
    """A parked run's directory name and the last TimestepsSoFar its progress.csv logged (0
    if none), read without unpacking the rest."""
    with tarfile.open(archive, "r:xz") as packed:
        for entry in packed:
            if os.path.basename(entry.name) == PROGRESS_FILE:
                lines = io.TextIOWrapper(packed.extractfile(entry), newline="")
                steps = last_logged(progress_columns(lines), TIMESTEP_KEY)
                return entry.name.split("/")[0], steps
    raise UserError(f"{archive} holds no {PROGRESS_FILE}: not a parked run")


def unpark(archive: str, member_dir: str) -> str:
    """Unpacks a parked run into `member_dir`; returns its run directory. UserError if the
    archive holds anything but one run directory's files."""
    with tarfile.open(archive, "r:xz") as packed:
        tops = {entry.name.split("/")[0] for entry in packed.getmembers()}
        if len(tops) != 1:
            raise UserError(f"{archive} holds {len(tops)} top folders, not one run directory")
        os.makedirs(member_dir, exist_ok=True)
        packed.extractall(member_dir, filter="data")
    return os.path.join(member_dir, tops.pop())


def discard(archive: Optional[str]) -> bool:
    """Deletes a parked archive if there is one; returns whether there was."""
    if archive and os.path.isfile(archive):
        os.remove(archive)
        return True
    return False
