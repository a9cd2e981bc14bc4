"""Updates that leave non-finite parameters are undone, as TRPO's line search does for its
step: the value-function fits and the K-FAC steps go through `keep_if_finite`."""
from typing import Callable, Sequence, Tuple, TypeVar

import numpy as np
import tensorflow as tf

Result = TypeVar("Result")


def keep_if_finite(variables: Sequence[tf.Variable], update: Callable[[], Result],
                   log: Callable[[str], None], what: str) -> Tuple[Result, bool]:
    """Runs `update()`; if it left any floating variable among `variables` non-finite, puts
    every one of them back as it was, logs that `what` was undone, and returns (its result,
    False); else (its result, True). On MPI ranks that hold the same values the decision is
    the same everywhere."""
    before = [variable.numpy() for variable in variables]
    result = update()
    if all(np.isfinite(variable.numpy()).all() for variable in variables
           if variable.dtype.is_floating):
        return result, True
    for variable, value in zip(variables, before):
        variable.assign(value)
    log(f"{what} produced non-finite values: undone, the previous values are kept")
    return result, False
