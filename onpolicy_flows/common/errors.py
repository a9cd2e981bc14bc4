"""The exception types that entry points print as a single line instead of a traceback."""


class UserError(Exception):
    """Bad input or a condition the user can fix (flags, environment ids, paths, checkpoints,
    an environment that returns NaN, a full disk)."""


class AgreedError(UserError):
    """A UserError that every MPI rank raises together (`mpi.raise_on_any_rank`), so that rank
    0 alone needs to print it."""
