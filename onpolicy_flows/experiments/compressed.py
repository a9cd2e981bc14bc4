"""Text files kept plain or compressed: `progress.csv`, `progress.csv.xz` or
`progress.csv.gz`.

Harvested results (results/<grid>/<member>/) store the CSVs that are larger than
COMPRESS_ABOVE_BYTES xz-compressed (results harvested before, gzipped); every reader goes
through `stored_path` and `open_text`, so it reads all forms alike.
"""
import gzip
import lzma
import os
from typing import IO, Optional

XZ_SUFFIX, GZIP_SUFFIX = ".xz", ".gz"
SUFFIXES = (XZ_SUFFIX, GZIP_SUFFIX)
COMPRESS_ABOVE_BYTES = 16_000
XZ_PRESET = 6 | lzma.PRESET_EXTREME  # about 25% smaller than gzip on these CSVs


def stored_path(path: str) -> Optional[str]:
    """`path` if it exists, else its first compressed twin that does (`path.xz`, `path.gz`),
    else None."""
    for candidate in (path, *(path + suffix for suffix in SUFFIXES)):
        if os.path.isfile(candidate):
            return candidate
    return None


def plain_name(path: str) -> str:
    """The file's name without a compression suffix: 'monitor.0.csv.xz' -> 'monitor.0.csv'."""
    name = os.path.basename(path)
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def open_text(path: str) -> IO[str]:
    """Opens `path` (or a compressed twin, see `stored_path`) for reading text;
    FileNotFoundError if none exists."""
    found = stored_path(path)
    if found is None:
        raise FileNotFoundError(path)
    if found.endswith(XZ_SUFFIX):
        return lzma.open(found, "rt", newline="")
    if found.endswith(GZIP_SUFFIX):
        return gzip.open(found, "rt", newline="")
    return open(found, newline="")


def read_text(path: str) -> str:
    """The whole text of `path` or of a compressed twin (`open_text`)."""
    with open_text(path) as file:
        return file.read()


def store_text(text: str, name: str, directory: str,
               compress_above: int = COMPRESS_ABOVE_BYTES) -> str:
    """Writes `text` as `directory/name`, xz-compressed (name + .xz) when its UTF-8 encoding
    is larger than `compress_above` bytes; returns the written path."""
    data = text.encode()
    destination = os.path.join(directory, name)
    if len(data) > compress_above:
        destination += XZ_SUFFIX
        data = lzma.compress(data, preset=XZ_PRESET)
    with open(destination, "wb") as file:
        file.write(data)
    return destination


def store(source: str, directory: str, compress_above: int = COMPRESS_ABOVE_BYTES) -> str:
    """Copies the text file `source` (or its compressed twin) into `directory` under its
    plain name, compressed as `store_text` decides; returns the written path."""
    return store_text(read_text(source), plain_name(source), directory, compress_above)
