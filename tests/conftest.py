"""Shared test set-up: one TF thread pair per process, as in training, and a trace cache
(`common.trace_cache`) of this session's own, shared with the processes tests start."""
import atexit
import os
import shutil
import sys
import tempfile

import pytest

TRACE_CACHE = tempfile.mkdtemp(prefix="onpolicy-flows-trace-cache-")
os.environ["ONPOLICY_FLOWS_TRACE_CACHE"] = TRACE_CACHE  # before the package is imported
atexit.register(shutil.rmtree, TRACE_CACHE, ignore_errors=True)

from onpolicy_flows.common.seeding import configure_tensorflow_threads  # noqa: E402

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
