"""Run directories: logs/<algo>-<env>-<policy>-seed<seed>-<time>/ with config.json inside."""
import os
import time

from onpolicy_flows.common import mpi
from onpolicy_flows.common.config import save_json
from onpolicy_flows.common.errors import UserError

CONFIG_FILE = "config.json"


def create_run_dir(logdir: str, name: str, config) -> str:
    """Creates `logdir/name-<timestamp>` on rank 0, writes config.json, and returns its path on
    every rank. Raises UserError if the directory cannot be written."""
    path = None
    if mpi.is_root():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(logdir, f"{name}-{stamp}")
        suffix = 1
        while os.path.exists(path):
            path = os.path.join(logdir, f"{name}-{stamp}-{suffix}")
            suffix += 1
        try:
            os.makedirs(path)
            save_json(config, os.path.join(path, CONFIG_FILE))
        except OSError as error:
            path = UserError(f"cannot write the log directory {logdir!r}: {error.strerror}")
    path = mpi.allgather(path)[0]
    if isinstance(path, UserError):
        raise path
    return path
