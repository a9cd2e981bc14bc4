"""`import tensorflow` for the original code: tf.compat.v1 in graph mode, as TF 1.6 was.

What differs from plain tf.compat.v1, and why:
  * TF_USE_LEGACY_KERAS=1 (set before TensorFlow loads): tf.compat.v1.layers.dense, which the
    flow's coupling nets use, lives in tf-keras; Keras 3 has no tf.layers.
  * disable_v2_behavior(): sessions, placeholders, reference variables, graph collections.
  * `Tensor` is the graph-tensor class (SymbolicTensor): baselines' U.function tells a
    placeholder by `type(x) is tf.Tensor`, which the TF 2 base class never satisfies.
  * `contrib`: layers.layer_norm (contrib.py) and distributions (= tf.compat.v1.distributions).
Every other attribute is tf.compat.v1's. Submodules TensorFlow itself loaded
(tensorflow.python.ops, ...) stay importable under their real names.
"""
import os
import sys
import types


class _TensorFlowV1(types.ModuleType):
    """A module whose attributes are tf.compat.v1's, except those set on it."""

    IS_PARITY_SHIM = True

    def __init__(self, v1):
        super().__init__("tensorflow", __doc__)
        self._v1 = v1

    def __getattr__(self, name):
        return getattr(self._v1, name)


def install() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as real_tf
    from tensorflow.python.framework.ops import SymbolicTensor

    v1 = real_tf.compat.v1
    v1.disable_v2_behavior()
    v1.logging.set_verbosity(v1.logging.ERROR)
    # Resolve the lazily loaded parts now, while `tensorflow` is still the real package.
    _ = v1.layers.dense, v1.distributions.Normal

    from . import contrib
    contrib_module = contrib.build(v1)

    shim = _TensorFlowV1(v1)
    shim.Tensor = SymbolicTensor
    shim.contrib = contrib_module
    shim.__version__ = real_tf.__version__
    shim.__path__ = list(real_tf.__path__)
    sys.modules["tensorflow"] = shim
    sys.modules["tensorflow.contrib"] = contrib_module
    sys.modules["tensorflow.contrib.layers"] = contrib_module.layers
    sys.modules["tensorflow.contrib.distributions"] = contrib_module.distributions
