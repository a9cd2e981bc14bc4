"""Shuffled minibatches over aligned arrays (baselines' `dataset.iterbatches`)."""
from typing import Iterator

import numpy as np


def minibatch_indices(num_rows: int, batch_size: int,
                      rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yields [batch_size] row indices of one shuffled pass over `num_rows` rows, in an order
    drawn from `rng`; a final partial batch is dropped, as in the original value-function
    fitting."""
    order = rng.permutation(num_rows)
    for start in range(0, num_rows - batch_size + 1, batch_size):
        yield order[start:start + batch_size]
