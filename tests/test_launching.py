"""Trainer flags as command-line arguments."""
import sys

from onpolicy_flows.experiments.grids.launching import training_command
from onpolicy_flows.runs.cli import flag_arguments


def test_flags_become_arguments():
    assert flag_arguments(dict(num_timesteps=10, bootstrap_truncation=False, render=True,
                               hidden_sizes=(64, 64))) == [
        "--num-timesteps", "10", "--no-bootstrap-truncation", "--render",
        "--hidden-sizes", "64", "64"]


def test_launcher_prefixes_the_command():
    assert training_command("acktr", ["--seed", "1"], ["srun", "-n", "1"]) == [
        "srun", "-n", "1", sys.executable, "-m", "run.acktr", "--seed", "1"]
