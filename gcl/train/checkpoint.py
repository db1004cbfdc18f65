"""Atomic checkpoints that load with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors and plain Python containers (no pickled classes), so it
loads under torch's safe unpickler; it is written to a temporary file and renamed, so a
crash or a full disk never leaves a truncated checkpoint in place of a good one.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import torch

from gcl.train.errors import CheckpointError
from gcl.utils.atomic import atomic_write

FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (plus a format tag) to ``path`` atomically.

    Raises:
        CheckpointError: the file cannot be written (disk full, permission); the previous
            checkpoint at ``path``, if any, is left untouched.
    """
    path = Path(path)
    payload = {"format_version": FORMAT_VERSION, **state}
    try:
        with atomic_write(path, "wb") as fh:
            torch.save(payload, fh)
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise CheckpointError(path, f"cannot write checkpoint ({reason}); the previous one is kept") from exc


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: missing, unreadable, truncated, or not a gcl checkpoint.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise CheckpointError(path, "not a checkpoint file (a folder or special file is in its place)")
    if not path.is_file():
        raise CheckpointError(path, "no checkpoint file to resume from")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt archives
        raise CheckpointError(path, f"unreadable checkpoint (truncated or corrupt): {exc}") from exc
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(path, "not a gcl checkpoint (missing or unknown format_version)")
    return state
