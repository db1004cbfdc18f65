"""JSON-lines metrics log: one object per epoch, appended as training goes."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

from gcl.utils.atomic import atomic_write


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLog:
    """Append-only ``metrics.jsonl`` with one record per epoch.

    Args:
        path: file to write; ``None`` keeps records in memory only.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self.records: list[dict[str, Any]] = []

    def append(self, record: dict[str, Any]) -> None:
        record = {k: _clean(v) for k, v in record.items()}
        self.records.append(record)
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a") as fh:
                    fh.write(json.dumps(record) + "\n")
            except OSError as exc:
                raise self._named(exc, "cannot append to the metrics log") from exc

    def reset_to(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the log with ``records`` (used on resume to drop epochs after the checkpoint)."""
        self.records = list(records)
        if self.path is not None:
            try:
                with atomic_write(self.path, "w") as fh:
                    for r in self.records:
                        fh.write(json.dumps(r) + "\n")
            except OSError as exc:
                raise self._named(exc, "cannot rewrite the metrics log") from exc

    def _named(self, exc: OSError, what: str) -> OSError:
        """``exc`` as an ``OSError`` naming the log file (a failed write, e.g. on a full disk,
        carries no file name of its own)."""
        return OSError(exc.errno, f"{what} ({exc.strerror or exc})", str(self.path))
