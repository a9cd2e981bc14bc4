"""Checkpoints of a run directory: `RUN_DIR/checkpoints/ckpt-<iteration>.*`.

Written by rank 0 through `tf.train.CheckpointManager`, which keeps the last few. A save is
atomic in the sense that matters: the data files of a new checkpoint are written first and
the `checkpoints/checkpoint` index that names the latest one is replaced by a rename last, so
a run killed while saving still finds its previous checkpoint intact.
"""
import os
from typing import Dict, Optional

import tensorflow as tf

from onpolicy_flows.common import mpi
from onpolicy_flows.common.errors import UserError

CHECKPOINT_SUBDIR = "checkpoints"
KEEP_LAST = 3


class RunCheckpoints:
    """Saves and restores `objects` (name -> tf.Module or variable) under `run_dir`."""

    def __init__(self, run_dir: str, objects: Dict[str, tf.Module]):
        self.directory = os.path.join(run_dir, CHECKPOINT_SUBDIR)
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory,
                                                  max_to_keep=KEEP_LAST,
                                                  checkpoint_name="ckpt")

    def save(self, iteration: int) -> None:
        """Rank 0 writes `ckpt-<iteration>`; other ranks do nothing."""
        if mpi.is_root():
            self.manager.save(checkpoint_number=iteration)

    def restore(self, path: str) -> None:
        """Loads every object from `path` (see `find_checkpoint`); all must be present."""
        status = _read_checkpoint(self.checkpoint, path)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as error:
            raise UserError(f"checkpoint {path!r} does not match this run's configuration") \
                from error


def find_checkpoint(run_dir: str, which: Optional[str] = None) -> str:
    """The checkpoint prefix to load from a run directory: the latest one, or `which` (an
    iteration number, a `ckpt-N` name, or a path). Raises UserError naming the problem."""
    if not os.path.isdir(run_dir):
        raise UserError(f"run directory {run_dir!r} does not exist")
    directory = os.path.join(run_dir, CHECKPOINT_SUBDIR)
    if which is None:
        latest = tf.train.latest_checkpoint(directory) if os.path.isdir(directory) else None
        if latest is None:
            raise UserError(f"{run_dir!r} holds no checkpoint (no {CHECKPOINT_SUBDIR}/ with a "
                            "saved iteration)")
        return latest
    candidates = [which, os.path.join(directory, which), os.path.join(directory, f"ckpt-{which}")]
    for prefix in candidates:
        if os.path.exists(prefix + ".index"):
            return prefix
    available = sorted(name[:-len(".index")] for name in os.listdir(directory)
                       if name.endswith(".index")) if os.path.isdir(directory) else []
    raise UserError(f"no checkpoint {which!r} in {run_dir!r}; available: "
                    f"{', '.join(available) or 'none'}")


def _read_checkpoint(checkpoint: tf.train.Checkpoint, path: str):
    """`checkpoint.read(path)`, with a truncated or corrupt file reported as a UserError
    (TF raises OpError, ValueError or IndexError, depending on where the bytes end)."""
    try:
        return checkpoint.read(path)
    except (tf.errors.OpError, ValueError, IndexError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise UserError(f"checkpoint {path!r} is truncated or corrupt ({message})") from error
