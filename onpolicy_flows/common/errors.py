"""The one exception type that entry points print as a single line instead of a traceback."""


class UserError(Exception):
    """Bad input from the user (flags, environment ids, paths, checkpoints)."""
