"""Command-line entry points: `python -m run.<name>`."""
import gc
import sys

from onpolicy_flows.common.quiet import import_tensorflow_quietly

# Entry points that never need TensorFlow, and start in a second without it.
WITHOUT_TENSORFLOW = ("run.reproduce",)


def _entry_point() -> str:
    """The module of `python [options] -m MODULE ...`, or '' (run otherwise)."""
    argv = sys.orig_argv
    return argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""


# Importing TensorFlow creates some 500k long-lived objects, and the collector's full passes
# over them while they are being created cost about a second of every command's start-up.
# Collection is paused for the import, and what it created is frozen out of later passes.
if _entry_point() not in WITHOUT_TENSORFLOW:
    gc.disable()
    try:
        import_tensorflow_quietly()
    finally:
        gc.enable()
        gc.freeze()
