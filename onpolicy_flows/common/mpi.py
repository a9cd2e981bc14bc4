"""MPI helpers. Every function also works without mpi4py, as a world of one process.

All reductions take and return float64 numpy arrays, so that sums over ranks do not lose
precision and every rank ends with bit-identical results.
"""
import os
import time
from typing import Callable, Optional, TypeVar

import numpy as np

from onpolicy_flows.common.errors import AgreedError, UserError

try:
    from mpi4py import MPI
except ImportError:  # single-process use and tests need no MPI runtime
    MPI = None


def rank() -> int:
    """This process's rank in COMM_WORLD (0 without MPI)."""
    return MPI.COMM_WORLD.Get_rank() if MPI is not None else 0


def world_size() -> int:
    """Number of processes in COMM_WORLD (1 without MPI)."""
    return MPI.COMM_WORLD.Get_size() if MPI is not None else 1


def has_spare_core() -> bool:
    """Whether more cores are available to this process than the job has ranks on this
    machine (so a background thread would not take a core from a rank). Collective."""
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    return cores > ranks_on_this_host()


def ranks_on_this_host() -> int:
    """Number of processes of COMM_WORLD on this machine (1 without MPI). Collective."""
    if world_size() == 1:
        return 1
    host = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    size = host.Get_size()
    host.Free()
    return size


def is_root() -> bool:
    return rank() == 0


def abort(status: int) -> None:
    """Ends every rank of the job (a rank that failed alone would leave the others waiting in
    their next collective); nothing without MPI."""
    if world_size() > 1:
        MPI.COMM_WORLD.Abort(status)


def wait_for_all(poll_seconds: float = 0.005) -> None:
    """Barrier: returns once every rank has called it. Waiting ranks sleep between polls
    (MPI's own barrier spins, taking the core a rank still at work may need)."""
    if world_size() == 1:
        return
    request = MPI.COMM_WORLD.Ibarrier()
    while not request.Test():
        time.sleep(poll_seconds)


def allreduce_sum(values) -> np.ndarray:
    """Element-wise sum over ranks of an array of any shape."""
    local = np.ascontiguousarray(values, dtype=np.float64)
    if world_size() == 1:
        return local.copy()
    total = np.empty_like(local)
    MPI.COMM_WORLD.Allreduce(local, total, op=MPI.SUM)
    return total


def allreduce_mean(values) -> np.ndarray:
    """Element-wise mean over ranks."""
    return allreduce_sum(values) / world_size()


def broadcast(values, root: int = 0) -> np.ndarray:
    """Returns root's copy of a float64 array on every rank."""
    array = np.array(values, dtype=np.float64)
    if world_size() > 1:
        MPI.COMM_WORLD.Bcast(array, root=root)
    return array


def allgather(obj) -> list:
    """Every rank's `obj` (any picklable object), ordered by rank."""
    if world_size() == 1:
        return [obj]
    return MPI.COMM_WORLD.allgather(obj)


def assert_synced(values, what: str) -> None:
    """Raises RuntimeError on every rank if `values` differs between ranks."""
    gathered = allgather(np.asarray(values, dtype=np.float64))
    if not all(np.array_equal(gathered[0], other) for other in gathered[1:]):
        raise RuntimeError(f"{what} differ between MPI ranks: the workers are out of sync")


def raise_on_any_rank(error: Optional[UserError]) -> None:
    """Collective: if any rank passes an error, every rank raises an AgreedError with the
    message of the lowest such rank (a rank that stopped alone would leave the others
    waiting in their next collective)."""
    messages = allgather(None if error is None else str(error))
    failed = [message for message in messages if message is not None]
    if failed:
        raise AgreedError(failed[0]) from error


Result = TypeVar("Result")


def call_stopping_together(work: Callable[[], Result]) -> Result:
    """Collective: `work()`'s result, or, if it raised a UserError on any rank, that error
    raised on every rank (see `raise_on_any_rank`). For work without collectives inside
    (rollouts, file writes on rank 0)."""
    error = None
    try:
        result = work()
    except UserError as caught:
        error = caught
    raise_on_any_rank(error)
    return result
