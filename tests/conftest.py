"""Shared test set-up: one TF thread pair per process, as in training."""
import os
import sys

import pytest

from onpolicy_flows.common.seeding import configure_tensorflow_threads

configure_tensorflow_threads(1)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def repo_root():
    return REPO_ROOT


def mpirun_command(num_ranks: int, *args: str) -> list:
    """`mpirun -np N python ARGS...` with the interpreter running the tests."""
    mpirun = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return [mpirun if os.path.exists(mpirun) else "mpirun", "-np", str(num_ranks),
            sys.executable, *args]
