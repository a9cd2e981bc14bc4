"""MPI helpers. Every function also works without mpi4py, as a world of one process.

All reductions take and return float64 numpy arrays, so that sums over ranks do not lose
precision and every rank ends with bit-identical results.
"""
import numpy as np

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


def is_root() -> bool:
    return rank() == 0


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
