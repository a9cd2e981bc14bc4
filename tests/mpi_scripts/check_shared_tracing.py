"""Run under `mpirun -np 2` with an empty ONPOLICY_FLOWS_TRACE_CACHE: the ranks build four
functions together (`trace_cache.build_across_ranks`); each writes which it traced and what
they compute. With the argument `failing`, rank 0's first function cannot be traced."""
import sys

import numpy as np
import tensorflow as tf
from check_reductions import write_result  # this folder is on the path of a script in it

from onpolicy_flows.common import mpi
from onpolicy_flows.common.seeding import configure_tensorflow_threads
from onpolicy_flows.common.trace_cache import TracedFunction, build_across_ranks

NAMES = ("first", "second", "third", "fourth")


def _scaled(variable, factor, name):
    def function(x):
        return factor * x + variable
    function.__name__ = function.__qualname__ = name
    return function


def main():
    configure_tensorflow_threads(1)
    variable = tf.Variable([1.0, 2.0])
    functions = [TracedFunction(_scaled(variable, float(index + 1), name),
                                [tf.TensorSpec([2], tf.float32)], "", [variable])
                 for index, name in enumerate(NAMES)]
    if sys.argv[1:] == ["failing"]:
        def not_a_tensor(x):
            return [x]  # TracedFunction refuses to trace functions that return lists
        functions[0] = TracedFunction(not_a_tensor, [tf.TensorSpec([2], tf.float32)], "",
                                      [variable])
    build_across_ranks(functions)
    x = np.array([1.0, -1.0], np.float32)
    write_result(dict(
        traced=[name for name, function in zip(NAMES, functions)
                if not function.loaded_from_cache],
        values=[function(x).numpy().tolist() for function in functions],
        size=mpi.world_size()))


if __name__ == "__main__":
    main()
