"""Run directories: logs/<algo>-<env>-<policy>-seed<seed>-<time>/ with config.json inside."""
import json
import os
import time
from typing import Dict, Type

from onpolicy_flows.common import mpi
from onpolicy_flows.common.config import from_dict, save_json
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


def load_config(run_dir: str, config_classes: Dict[str, Type]):
    """The config a run directory was trained with, as an instance of the class registered
    for its algorithm in `config_classes` (name -> config class). Raises UserError for a
    missing directory or file, unreadable JSON, or an algorithm not in `config_classes`."""
    if not os.path.isdir(run_dir):
        raise UserError(f"run directory {run_dir!r} does not exist")
    path = os.path.join(run_dir, CONFIG_FILE)
    try:
        with open(path) as file:
            data = json.load(file)
    except FileNotFoundError:
        raise UserError(f"{run_dir!r} is not a run directory (no {CONFIG_FILE})") from None
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read {path!r}: {error}") from None
    algorithm = data.get("algorithm", "trpo")
    if algorithm not in config_classes:
        raise UserError(f"{run_dir!r} is a {algorithm} run; expected one of "
                        f"{', '.join(config_classes)}")
    try:
        return from_dict(config_classes[algorithm], data)
    except TypeError as error:
        raise UserError(f"{path!r} does not hold a valid {algorithm} config: {error}") from None
