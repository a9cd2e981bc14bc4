"""Command-line entry points: `python -m run.<name>`."""
import gc

from onpolicy_flows.common.quiet import import_tensorflow_quietly

# Importing TensorFlow creates some 500k long-lived objects, and the collector's full passes
# over them while they are being created cost about a second of every command's start-up.
# Collection is paused for the import, and what it created is frozen out of later passes.
gc.disable()
try:
    import_tensorflow_quietly()
finally:
    gc.enable()
    gc.freeze()
