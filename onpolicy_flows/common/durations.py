"""Durations as people read them in progress lines and tables."""
from typing import Optional


def format_duration(seconds: Optional[float]) -> str:
    """'1h02m', '3m05s', '42s'; '?' for None."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
