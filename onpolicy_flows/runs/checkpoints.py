"""Checkpoints of a run directory: `RUN_DIR/checkpoints/ckpt-<iteration>.*`.

Written by rank 0 through `tf.train.CheckpointManager`, which keeps the last few. A save is
atomic in the sense that matters: the data files of a new checkpoint are written first and
the `checkpoints/checkpoint` index that names the latest one is replaced by a rename last, so
a run killed while saving still finds its previous checkpoint intact. Nothing non-finite is
ever saved, and a failed write (a full disk) removes what it left and stops every rank with
one line, the previous checkpoint intact.
"""
import glob
import os
import shutil
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi
from onpolicy_flows.common.errors import UserError

# Checkpointed objects allowed to hold NaN: Progress marks empty slots of its episode window.
MAY_HOLD_NAN = ("progress",)

CHECKPOINT_SUBDIR = "checkpoints"
KEEP_LAST = 3


class RunCheckpoints:
    """Saves and restores `objects` (name -> tf.Module or variable) under `run_dir`."""

    def __init__(self, run_dir: str, objects: Dict[str, tf.Module]):
        self.directory = os.path.join(run_dir, CHECKPOINT_SUBDIR)
        self.objects = objects
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory,
                                                  max_to_keep=KEEP_LAST,
                                                  checkpoint_name="ckpt")

    def save(self, iteration: int) -> None:
        """Rank 0 writes `ckpt-<iteration>`. Collective: if a variable is not finite, or the
        write fails, every rank raises a UserError and the previous checkpoint stays the
        latest."""
        mpi.call_stopping_together(lambda: self._save_on_root(iteration))

    def _save_on_root(self, iteration: int) -> None:
        if not mpi.is_root():
            return
        self._require_finite(iteration)
        try:
            self.manager.save(checkpoint_number=iteration)
        except (tf.errors.OpError, OSError) as error:
            self._remove_partial(iteration)
            reason = getattr(error, "strerror", None) or getattr(error, "message", str(error))
            raise UserError(f"writing checkpoint ckpt-{iteration} to {self.directory} failed "
                            f"({reason.strip().splitlines()[0]}); {self._previous()} is "
                            f"intact: fix this, then continue with --resume") from error

    def _require_finite(self, iteration: int) -> None:
        for name, owner in self.objects.items():
            if name in MAY_HOLD_NAN:
                continue
            variables = owner.variables if isinstance(owner, tf.Module) else [owner]
            for variable in variables:
                if variable.dtype.is_floating and not np.isfinite(variable.numpy()).all():
                    raise UserError(
                        f"iteration {iteration}: {name} holds non-finite values "
                        f"({variable.name}); nothing was saved, so {self._previous()} stays "
                        f"the latest")

    def _previous(self) -> str:
        latest = self.manager.latest_checkpoint
        return f"the previous checkpoint {os.path.basename(latest)}" if latest \
            else "no checkpoint (none had been written yet)"

    def _remove_partial(self, iteration: int) -> None:
        """Deletes what a failed save of ckpt-<iteration> left (temporary files and
        directories, data files the index does not name)."""
        prefix = os.path.join(self.directory, f"ckpt-{iteration}")
        if self.manager.latest_checkpoint == prefix:
            return
        for path in glob.glob(prefix + "_temp*") + glob.glob(prefix + ".*"):
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)

    def restore(self, path: str) -> None:
        """Loads every object from `path` (see `find_checkpoint`); all must be present."""
        status = _read_checkpoint(self.checkpoint, path)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as error:
            status.expect_partial()  # TensorFlow would list every mismatch when it exits
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
