"""Writing a run's files without losing the run: clear errors instead of tracebacks, and
repair of a file whose last line a kill cut off."""
import os

from onpolicy_flows.common.errors import UserError

RESUME_HINT = "the run's latest checkpoint is intact: fix this, then continue with --resume"


def write_failure(what: str, path: str, error: Exception) -> UserError:
    """The one-line error for a failed write of `what` (e.g. "progress.csv") at `path`."""
    reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[0] \
        if str(error).strip() else type(error).__name__
    return UserError(f"writing {what} to {path} failed ({reason}); {RESUME_HINT}")


def drop_cut_last_line(path: str) -> None:
    """If `path` does not end with a newline (a write cut short by a kill or a full disk),
    truncates it after its last complete line."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb+") as file:
        file.seek(-1, os.SEEK_END)
        if file.read(1) == b"\n":
            return
        file.seek(0)
        content = file.read()
        file.seek(0)
        file.truncate(content.rfind(b"\n") + 1)
