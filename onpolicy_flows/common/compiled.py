"""`compiled`: the package's one way to make a TensorFlow graph function, and the XLA
settings its compiled functions get (`trace_cache.TracedFunction` calls them, with or
without the graph optimiser)."""
import os

import tensorflow as tf

# XLA's newer CPU fusion emitters (MLIR) cost about 150 MB of peak memory and 1 s more per
# compilation of the flow's acting function than the classic emitters, for no faster code
# at its sizes (measured in benchmarks/vs_peer.py). XLA reads its flags at its first
# compilation, so setting them at import is early enough; a user's own XLA_FLAGS that name
# this flag win.
CLASSIC_EMITTERS_FLAG = "--xla_cpu_use_fusion_emitters=false"


def _prefer_classic_xla_cpu_emitters() -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {CLASSIC_EMITTERS_FLAG}".strip()


_prefer_classic_xla_cpu_emitters()


def compiled(function, **options):
    """`tf.function(function, autograph=False, **options)`.

    Every compiled function here is plain tensor code (loops are `tf.while_loop`, branches
    `tf.cond`), so AutoGraph's source-to-source conversion, which costs seconds per learner
    at start-up (it also converts every TFP method a policy calls), is skipped.
    """
    return tf.function(function, autograph=False, **options)
