"""Run under `mpirun -np N`: every rank contributes rank-dependent data to the MPI helpers and
the running mean/std, then prints one JSON line with what it ended with."""
import json
import os

import numpy as np

from onpolicy_flows.common import mpi
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.common.seeding import configure_tensorflow_threads


def rank_data(rank: int) -> np.ndarray:
    """The rows rank `rank` contributes: [10 + rank, 3]."""
    return np.random.default_rng(rank).normal(rank, 1.0 + rank, size=(10 + rank, 3))


def main():
    configure_tensorflow_threads(1)
    rank = mpi.rank()
    normalizer = RunningMeanStd(3)
    normalizer.update(rank_data(rank))
    result = dict(
        rank=rank,
        size=mpi.world_size(),
        mean=normalizer.mean.numpy().tolist(),
        std=normalizer.std.numpy().tolist(),
        allreduce_mean=mpi.allreduce_mean(np.arange(4.0) * (rank + 1)).tolist(),
        broadcast=mpi.broadcast(np.full(2, float(rank))).tolist(),
    )
    write_result(result)


def write_result(result: dict) -> None:
    """Each rank writes its own file (interleaved stdout lines from ranks would mix)."""
    with open(os.path.join(os.environ["MPI_TEST_OUT"], f"rank{mpi.rank()}.json"), "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()

