"""`compiled`: the package's one way to make a TensorFlow graph function."""
import tensorflow as tf


def compiled(function, **options):
    """`tf.function(function, autograph=False, **options)`.

    Every compiled function here is plain tensor code (loops are `tf.while_loop`, branches
    `tf.cond`), so AutoGraph's source-to-source conversion, which costs seconds per learner
    at start-up (it also converts every TFP method a policy calls), is skipped.
    """
    return tf.function(function, autograph=False, **options)
