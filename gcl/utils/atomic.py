"""Atomic file and directory writes: a reader sees the old state or the complete new one.

Everything the library writes that another run may read later (processed dataset caches,
checkpoints, result files) goes through these helpers, so a crash or a full disk never
leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file beside ``path``; rename it onto ``path`` when the block succeeds.

    The temporary file is flushed and ``fsync``-ed before the rename; on any exception it is
    removed and ``path`` is left as it was.

    Args:
        path: final destination.
        mode: ``"wb"`` or ``"w"``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory that is renamed to ``path`` when the block succeeds.

    Used for processed caches that third-party code (PyG, OGB) writes file by file: the
    processing runs inside the temporary directory, so an interrupted run leaves no partial
    cache under ``path``. If another process created ``path`` meanwhile, its copy is kept
    and the temporary one discarded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, path)
        except OSError:
            if not path.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
