"""Command-line entry points: `python -m run.<name>`."""
import gc
import sys

from onpolicy_flows.common.quiet import import_tensorflow_quietly

# Entry points that never need TensorFlow, and start in a second without it.
WITHOUT_TENSORFLOW = ("run.reproduce",)

# Importing TensorFlow creates some 500k long-lived objects, and the collector's full passes
# over them while they are being created cost about a second of every command's start-up.
# Collection is paused for the import, and what it created is frozen out of later passes.
if sys.orig_argv[1:3] not in (["-m", name] for name in WITHOUT_TENSORFLOW):
    gc.disable()
    try:
        import_tensorflow_quietly()
    finally:
        gc.enable()
        gc.freeze()
