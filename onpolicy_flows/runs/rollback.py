"""Updates that leave non-finite parameters are undone, as TRPO's line search does for its
step: the value-function fits and the K-FAC and PPO steps go through a `Rollback`."""
from typing import Callable, Optional, Sequence, Tuple, TypeVar

import numpy as np
import tensorflow as tf

from onpolicy_flows.common.flat_params import FlatParameters

Result = TypeVar("Result")


class Rollback:
    """Snapshots a fixed list of variables before an update and puts them back if the update
    left any floating one non-finite.

    The float32 variables are read as one flat vector by one compiled call
    (`FlatParameters`): an ACKTR flow's policy and K-FAC state are ~1200 variables, which
    cost ~0.15 s per snapshot read one at a time, ~5 ms this way. The others (step counters)
    are read one by one. The variables must all exist when the Rollback is made.
    """

    def __init__(self, variables: Sequence[tf.Variable], log: Callable[[str], None]):
        self.log = log
        self.flat = FlatParameters([v for v in variables if v.dtype == tf.float32])
        self.others = [v for v in variables if v.dtype != tf.float32]

    def keep_if_finite(self, update: Callable[[], Result], what: str,
                       outputs: Optional[Callable[[], np.ndarray]] = None
                       ) -> Tuple[Result, bool]:
        """Runs `update()`; if it left a floating variable non-finite, or `outputs()` (what
        the updated variables compute, e.g. a fitted value function's predictions on its
        batch: weights grown to 1e21 are finite, their values are not) has a non-finite
        entry, puts every variable back as it was, logs that `what` was undone, and returns
        (its result, False); else (its result, True). On MPI ranks that hold the same values
        the decision is the same everywhere."""
        flat_before = self.flat.get()
        others_before = [variable.numpy() for variable in self.others]
        result = update()
        if self._finite() and (outputs is None or np.isfinite(outputs()).all()):
            return result, True
        self.flat.set(flat_before)
        for variable, value in zip(self.others, others_before):
            variable.assign(value)
        self.log(f"{what} produced non-finite values: undone, the previous values are kept")
        return result, False

    def _finite(self) -> bool:
        return bool(np.isfinite(self.flat.get()).all()) and all(
            np.isfinite(variable.numpy()).all() for variable in self.others
            if variable.dtype.is_floating)
