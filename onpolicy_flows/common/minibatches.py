"""Shuffled minibatch iteration over aligned arrays (baselines' `dataset.iterbatches`)."""
from typing import Iterator, Sequence

import numpy as np


def iterate_minibatches(arrays: Sequence[np.ndarray], batch_size: int,
                        rng: np.random.Generator) -> Iterator[tuple]:
    """Yields tuples of minibatches of `batch_size` rows, in an order drawn from `rng`.

    All arrays share their first dimension; a final partial batch is dropped, as in the
    original value-function fitting.
    """
    num_rows = len(arrays[0])
    order = rng.permutation(num_rows)
    for start in range(0, num_rows - batch_size + 1, batch_size):
        rows = order[start:start + batch_size]
        yield tuple(array[rows] for array in arrays)
