"""Keeping libraries' start-up chatter (TensorFlow's oneDNN, CUDA stubs and absl lines;
pybullet's build and connection lines) out of the terminal and the logs.

These lines come from C and C++ code, which writes to the process's file descriptors 1 and 2
directly, so Python's `sys.stdout` cannot catch them: the descriptors themselves are pointed
at /dev/null while the noisy call runs. Set ONPOLICY_FLOWS_VERBOSE=1 (or pass `--verbose` to
the training commands) to see them.
"""
import contextlib
import ctypes
import os
import sys
from typing import Iterator, Sequence

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
    with descriptors_silenced([2]):
        import tensorflow  # noqa: F401
        import tensorflow_probability  # noqa: F401


@contextlib.contextmanager
def console_silenced() -> Iterator[None]:
    """Runs its block with stdout and stderr (descriptors 1 and 2) silenced, unless verbose
    output was asked for. Python's own warnings and errors raised in the block are silenced
    too, so keep the block to the noisy library call."""
    if verbose_requested():
        yield
        return
    with descriptors_silenced([1, 2]):
        yield


@contextlib.contextmanager
def descriptors_silenced(descriptors: Sequence[int]) -> Iterator[None]:
    """Points `descriptors` at /dev/null for the block. C's stdio buffers are flushed before
    they are restored, so text a library printed into them (buffered when the output is a
    pipe or a file) is dropped rather than written later."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(descriptor) for descriptor in descriptors]
    try:
        with open(os.devnull, "w") as devnull:
            for descriptor in descriptors:
                os.dup2(devnull.fileno(), descriptor)
        yield
    finally:
        _flush_c_streams()
        for descriptor, copy in zip(descriptors, saved):
            os.dup2(copy, descriptor)
            os.close(copy)


def _flush_c_streams() -> None:
    """fflush(NULL): writes out every C stdio buffer of the process."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to ask (not the case on Linux, macOS)
        pass
