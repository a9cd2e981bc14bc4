"""Keeping TensorFlow's start-up chatter (oneDNN, CUDA stubs, absl) out of the terminal.

TensorFlow's C++ side prints several lines at import, before its own log level applies, so
they are hidden by pointing the process's stderr at /dev/null while it is imported. Set
ONPOLICY_FLOWS_VERBOSE=1 (or pass `--verbose` to the training commands) to see them.
"""
import contextlib
import os
import sys

VERBOSE_VARIABLE = "ONPOLICY_FLOWS_VERBOSE"


def verbose_requested(argv=None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return "--verbose" in argv or os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and TFP with file descriptor 2 silenced, and raises TensorFlow's
    C++ log threshold to errors that stop the program; does nothing when verbose output was
    asked for. Must run before anything else imports TensorFlow."""
    if verbose_requested() or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_silenced():
        import tensorflow  # noqa: F401
        import tensorflow_probability  # noqa: F401


@contextlib.contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
