"""Trainer flags as command-line arguments; trainers as subprocesses that a stop reaches."""
import argparse
import os
import signal
import sys
import threading
import time

import pytest

from onpolicy_flows.common import config as config_lib
from onpolicy_flows.experiments.grids.launching import (
    StopRequested,
    Trainers,
    training_command,
)
from onpolicy_flows.runs.cli import flag_arguments
from onpolicy_flows.trpo_mpi.config import TRPOConfig


def test_flags_become_arguments():
    assert flag_arguments(dict(num_timesteps=10, bootstrap_truncation=False, render=True,
                               hidden_sizes=(64, 64))) == [
        "--num-timesteps", "10", "--no-bootstrap-truncation", "--render",
        "--hidden-sizes", "64", "64"]


def test_env_kwargs_in_a_grid_reach_the_trainer_as_json():
    arguments = flag_arguments(dict(env="Ant-v4", env_kwargs={"use_contact_forces": True}))
    parser = argparse.ArgumentParser()
    config_lib.add_arguments(parser, TRPOConfig)
    config = config_lib.from_args(TRPOConfig, parser.parse_args(arguments))
    assert config.env_kwargs == {"use_contact_forces": True}


def test_launcher_prefixes_the_command():
    assert training_command("acktr", ["--seed", "1"], ["srun", "-n", "1"]) == [
        "srun", "-n", "1", sys.executable, "-m", "run.acktr", "--seed", "1"]


def test_a_stop_reaches_every_running_trainer_and_starts_no_more(tmp_path):
    """Each trainer runs in a session of its own (a Ctrl-C in the terminal reaches only its
    launcher), logs to its file, and gets SIGTERM whatever signal stopped the launcher."""
    trainer = ("import os, signal, sys, time\n"
               "signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(7))\n"
               "print('own session:', os.getsid(0) != int(sys.argv[1]), flush=True)\n"
               "time.sleep(60)\n")
    trainers, statuses = Trainers(), []
    logs = [str(tmp_path / f"run{index}" / "stdout.log") for index in range(2)]
    threads = [threading.Thread(target=lambda log=log: statuses.append(trainers.run_logged(
        [sys.executable, "-c", trainer, str(os.getsid(0))], log))) for log in logs]
    for thread in threads:
        thread.start()
    deadline = time.time() + 60
    while not all(os.path.exists(log) and "own session" in open(log).read() for log in logs):
        assert time.time() < deadline
        time.sleep(0.05)
    assert trainers.stop(signal.SIGINT) == 2  # passed on as SIGTERM (srun wants two SIGINTs)
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [7, 7]
    assert all("own session: True" in open(log).read() for log in logs)
    assert trainers.stop_signal == signal.SIGINT
    with pytest.raises(StopRequested):
        trainers.run_logged([sys.executable, "-c", "pass"], logs[0])
