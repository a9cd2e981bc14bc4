"""Updates that leave non-finite parameters are undone, as TRPO's line search does for its
step: the value-function fits and the K-FAC steps go through `keep_if_finite`."""
from typing import Callable, Optional, Sequence, Tuple, TypeVar

import numpy as np
import tensorflow as tf

Result = TypeVar("Result")


def keep_if_finite(variables: Sequence[tf.Variable], update: Callable[[], Result],
                   log: Callable[[str], None], what: str,
                   outputs: Optional[Callable[[], np.ndarray]] = None
                   ) -> Tuple[Result, bool]:
    """Runs `update()`; if it left any floating variable among `variables` non-finite, or
    `outputs()` (what the updated variables compute, e.g. a fitted value function's
    predictions on its batch: weights grown to 1e21 are finite, their values are not) has a
    non-finite entry, puts every variable back as it was, logs that `what` was undone, and
    returns (its result, False); else (its result, True). On MPI ranks that hold the same
    values the decision is the same everywhere."""
    before = [variable.numpy() for variable in variables]
    result = update()
    if all(np.isfinite(variable.numpy()).all() for variable in variables
           if variable.dtype.is_floating) \
            and (outputs is None or np.isfinite(outputs()).all()):
        return result, True
    for variable, value in zip(variables, before):
        variable.assign(value)
    log(f"{what} produced non-finite values: undone, the previous values are kept")
    return result, False
