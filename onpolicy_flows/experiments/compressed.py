"""Text files kept either plain or gzipped: `progress.csv` or `progress.csv.gz`.

Harvested results (results/<grid>/<member>/) gzip the CSVs that are larger than
GZIP_ABOVE_BYTES; every reader goes through `stored_path` and `open_text`, so it reads both
forms alike.
"""
import gzip
import os
import shutil
from typing import IO, Optional

GZIP_SUFFIX = ".gz"
GZIP_ABOVE_BYTES = 64_000


def stored_path(path: str) -> Optional[str]:
    """`path` if it exists, else `path.gz` if that exists, else None."""
    for candidate in (path, path + GZIP_SUFFIX):
        if os.path.isfile(candidate):
            return candidate
    return None


def plain_name(path: str) -> str:
    """The file's name without a .gz suffix: 'monitor.0.csv.gz' -> 'monitor.0.csv'."""
    name = os.path.basename(path)
    return name[:-len(GZIP_SUFFIX)] if name.endswith(GZIP_SUFFIX) else name


def open_text(path: str) -> IO[str]:
    """Opens `path` (or its .gz twin, see `stored_path`) for reading text; FileNotFoundError
    if neither exists."""
    found = stored_path(path)
    if found is None:
        raise FileNotFoundError(path)
    if found.endswith(GZIP_SUFFIX):
        return gzip.open(found, "rt", newline="")
    return open(found, newline="")


def store(source: str, directory: str, gzip_above: int = GZIP_ABOVE_BYTES) -> str:
    """Copies the plain file `source` into `directory`, gzipped (name + .gz) when it is larger
    than `gzip_above` bytes; returns the written path."""
    destination = os.path.join(directory, os.path.basename(source))
    if os.path.getsize(source) <= gzip_above:
        shutil.copyfile(source, destination)
        return destination
    destination += GZIP_SUFFIX
    with open(source, "rb") as plain, gzip.GzipFile(destination, "wb", mtime=0) as packed:
        shutil.copyfileobj(plain, packed)
    return destination
