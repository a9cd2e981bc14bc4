"""A list of variables seen as one flat float32 vector (for CG, line search, MPI sync)."""
from typing import Sequence

import numpy as np
import tensorflow as tf

from onpolicy_flows.common.trace_cache import TracedFunction


def flatten(tensors: Sequence[tf.Tensor]) -> tf.Tensor:
    """Concatenates tensors of any shapes into one vector [total_size]. Vectors enter as
    they are: a reshape per bias costs an op in every graph that flattens (and its
    gradient another), with no effect."""
    return tf.concat([t if t.shape.rank == 1 else tf.reshape(t, [-1]) for t in tensors],
                     axis=0)


class FlatParameters:
    """Reads and writes `variables` as one vector; both directions are compiled (and their
    graphs cached between runs: `TracedFunction`)."""

    def __init__(self, variables: Sequence[tf.Variable]):
        self.variables = list(variables)
        self.shapes = [v.shape for v in self.variables]
        self.size = int(sum(np.prod(shape) for shape in self.shapes))
        self._get = TracedFunction(self._read, [], "", self.variables)
        self._set = TracedFunction(self._assign, [tf.TensorSpec([self.size], tf.float32)], "",
                                   self.variables)

    def _read(self):
        return flatten(self.variables)

    def _assign(self, flat):
        for variable, value in zip(self.variables, self.unflatten(flat)):
            variable.assign(value)

    def get(self) -> np.ndarray:
        """[size] float32 copy of the current values."""
        return self._get().numpy()

    def set(self, flat: np.ndarray) -> None:
        self._set(tf.convert_to_tensor(flat, dtype=tf.float32))

    def trace(self) -> None:
        """Traces (or loads) both directions now; they are compiled at their first calls."""
        self._get.build()
        self._set.build()

    def rewrite(self) -> None:
        """Writes the current values back, unchanged: the first calls of both directions."""
        self.set(self.get())

    def unflatten(self, flat: tf.Tensor) -> list:
        """Splits a [size] tensor into tensors shaped like the variables."""
        pieces = tf.split(flat, [int(np.prod(shape)) for shape in self.shapes])
        return [piece if shape.rank == 1 else tf.reshape(piece, shape)
                for piece, shape in zip(pieces, self.shapes)]
