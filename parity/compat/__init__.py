"""A thin compatibility layer that lets the paper's original code (TF 1.6, old gym,
openai/baselines of January 2018) run unchanged on today's TensorFlow and gymnasium.

`install()` must run before anything of the original is imported. It puts, in sys.modules:
  tensorflow                     tf.compat.v1 after disable_v2_behavior(), with tf.Tensor the
                                 graph-tensor class and a `contrib` attribute (tensorflow_v1.py)
  tensorflow.contrib.layers      layer_norm as TF 1.6 contrib had it (contrib.py)
  tensorflow.contrib.distributions  tf.compat.v1.distributions
  gym, gym.core, gym.spaces      the old gym API over gymnasium (old_gym.py)
  mujoco_py                      an empty module (the original imports it only for its
                                 side effect of loading MuJoCo first)
and puts the fetched baselines (parity/.original/baselines) first on sys.path.
Nothing here changes what the original computes; README.md lists every item and why.
"""
import json
import os
import sys
import types

PARITY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGINAL_DIR = os.path.join(PARITY_DIR, ".original")
BASELINES_ROOT = os.path.join(ORIGINAL_DIR, "baselines")
ONPOLICYBASELINES_ROOT = os.path.join(ORIGINAL_DIR, "onpolicybaselines")
SOURCES_FILE = os.path.join(ORIGINAL_DIR, "SOURCES.json")


class MissingOriginal(Exception):
    """The fetched original is not there: run parity/fetch_original.sh."""


def read_sources() -> dict:
    """The commits of the fetched original (parity/.original/SOURCES.json)."""
    try:
        with open(SOURCES_FILE) as file:
            return json.load(file)
    except (OSError, json.JSONDecodeError):
        raise MissingOriginal(f"no fetched original in {ORIGINAL_DIR}; run "
                              "parity/fetch_original.sh first") from None


def install() -> None:
    """Installs every shim (idempotent). Raises MissingOriginal if the original is absent."""
    read_sources()
    if getattr(sys.modules.get("tensorflow"), "IS_PARITY_SHIM", False):
        return
    if "tensorflow" in sys.modules:
        raise RuntimeError("compat.install() must run before TensorFlow is imported")
    from . import old_gym, tensorflow_v1
    tensorflow_v1.install()
    old_gym.install()
    sys.modules.setdefault("mujoco_py", types.ModuleType("mujoco_py"))
    if BASELINES_ROOT not in sys.path:
        sys.path.insert(0, BASELINES_ROOT)
