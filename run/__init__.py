"""Command-line entry points: `python -m run.<name>`."""
from onpolicy_flows.common.quiet import import_tensorflow_quietly

import_tensorflow_quietly()
