"""Conjugate gradient for the TRPO step direction (port of baselines' `trpo_mpi/cg.py`)."""
from typing import Callable

import numpy as np


def conjugate_gradient(matrix_vector_product: Callable[[np.ndarray], np.ndarray],
                       b: np.ndarray, iterations: int = 10,
                       residual_tolerance: float = 1e-10) -> np.ndarray:
    """Approximately solves A x = b for a symmetric positive-definite A given only x -> A x.

    Starts from x = 0 and stops after `iterations` steps or once the squared residual norm
    falls below `residual_tolerance`.
    """
    x = np.zeros_like(b)
    residual = b.copy()
    direction = b.copy()
    residual_sq = residual.dot(residual)
    for _ in range(iterations):
        if residual_sq < residual_tolerance:
            break
        product = matrix_vector_product(direction)
        step = residual_sq / direction.dot(product)
        x += step * direction
        residual -= step * product
        new_residual_sq = residual.dot(residual)
        direction = residual + (new_residual_sq / residual_sq) * direction
        residual_sq = new_residual_sq
    return x
