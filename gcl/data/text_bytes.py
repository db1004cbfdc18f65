"""Whole text files as bytes, plain or gzip, with NUL bytes refused.

pandas < 3 reads ``"12\\x00"`` as ``12`` (its C parser ends a field at a NUL byte) while
pandas 3 raises, so a loader that hands a file straight to ``pandas.read_csv`` accepts a
corrupted copy or not depending on the installed pandas. The loaders read the bytes here
first: a NUL byte, which no text table of ours contains, is named with its line whatever the
pandas version, and pandas then parses the same bytes from memory.
"""
from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

from gcl.data.errors import DatasetError

GZIP_MAGIC = b"\x1f\x8b"


def read_text_bytes(path: Path, *, compressed: bool | None = None) -> bytes:
    """The decompressed bytes of ``path`` (gzip when ``compressed``, or when ``None`` and the
    file starts with the gzip magic number).

    Raises:
        DatasetError: an unreadable, truncated or corrupt gzip stream, or a NUL byte (its line
            named).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        if compressed or (compressed is None and data[:2] == GZIP_MAGIC):
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(path, f"truncated or corrupt file ({type(exc).__name__}: {exc})") from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DatasetError(path, "NUL byte in a text file (binary or corrupted data)",
                           line=data.count(b"\n", 0, nul) + 1)
    return data


def text_buffer(path: Path, *, compressed: bool | None = None) -> io.BytesIO:
    """:func:`read_text_bytes` as a buffer for ``pandas.read_csv(..., compression=None)``."""
    return io.BytesIO(read_text_bytes(path, compressed=compressed))


__all__ = ["read_text_bytes", "text_buffer"]
