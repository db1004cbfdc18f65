"""Timing helpers shared by the recommendation speed benchmarks.

Whole CPU epochs on Gowalla take minutes, so an epoch function is timed on the first ``n``
batches of its own loader for two values ``n1 < n2`` (the epoch's set-up, such as negative
sampling or view drawing, still runs once per call). The per-batch time is the slope
``(T(n2) − T(n1)) / (n2 − n1)``, the set-up the intercept ``max(T(n1) − n1·slope, 0)``, and
the epoch estimate ``set-up + batches_per_epoch · slope``.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from gcl.methods import cf
from gcl.utils.atomic import atomic_write


def timed(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of ``fn()``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@contextlib.contextmanager
def first_batches(n: int | None) -> Iterator[None]:
    """Make :func:`gcl.methods.cf.train_epoch` stop after ``n`` batches of its own
    ``bpr_batches`` (``None``: the whole epoch). The epoch's shuffle and negatives are still
    drawn for every interaction before the first batch."""
    real = cf.bpr_batches
    if n is not None:
        cf.bpr_batches = lambda *a, **k: itertools.islice(real(*a, **k), n)
    try:
        yield
    finally:
        cf.bpr_batches = real


class FirstBatches:
    """A data loader cut after ``n`` batches (``None``: all) for epoch functions that iterate a
    loader object (RecBole's ``Trainer._train_epoch``); every other attribute passes through,
    so the epoch function sees the loader it expects."""

    def __init__(self, loader: Any, n: int | None):
        self._loader, self._n = loader, n

    def __iter__(self) -> Iterator[Any]:
        return itertools.islice(iter(self._loader), self._n)

    def __len__(self) -> int:
        return len(self._loader) if self._n is None else min(self._n, len(self._loader))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def epoch_estimate(runs: dict[str, list[float]], n1: int | None, n2: int | None,
                   batches_per_epoch: int) -> dict[str, Any]:
    """Per-batch time, set-up and epoch time from timed runs on ``n1`` and ``n2`` batches.

    Args:
        runs: ``{str(n): [seconds, ...]}`` for ``n1`` and ``n2`` (medians are used); with
            ``n1 = n2 = None`` a single entry ``"None"`` of whole epochs.
        batches_per_epoch: batches in a whole epoch.

    Returns:
        ``{"epoch_s", "per_batch_s", "setup_s", "runs_s"}`` (``setup_s`` None for whole epochs).
    """
    med = {k: statistics.median(v) for k, v in runs.items()}
    if n1 is None:
        return {"epoch_s": med["None"], "per_batch_s": med["None"] / batches_per_epoch,
                "setup_s": None, "runs_s": runs}
    slope = (med[str(n2)] - med[str(n1)]) / (n2 - n1)
    setup = max(med[str(n1)] - n1 * slope, 0.0)
    return {"epoch_s": setup + batches_per_epoch * slope, "per_batch_s": slope,
            "setup_s": setup, "runs_s": runs}


def epoch_timing_text(full_epoch: bool, n1: int, n2: int, batches_per_epoch: int, repeats: int) -> str:
    """How :func:`epoch_estimate` figures were obtained, for a result record."""
    how = ("whole epochs" if full_epoch else
           f"each side's epoch function on the first {n1} and {n2} batches of its own loader (epoch "
           f"set-up included once); per-batch = slope, set-up = intercept, epoch = set-up + "
           f"{batches_per_epoch} x per-batch")
    return f"{how}; median of {repeats} interleaved repeats"


def write_record(path: str | Path, record: dict[str, Any]) -> Path:
    """Write a benchmark's JSON record atomically and print where."""
    path = Path(path)
    with atomic_write(path, "w") as fh:
        fh.write(json.dumps(record, indent=2))
    print(path)
    return path


def add_timing_arguments(parser: Any, small: int, batches: int) -> None:
    """``--small``, ``--batches`` (the two batch counts of the slope), ``--repeats`` and
    ``--threads`` (torch intra-op threads) with the given defaults."""
    parser.add_argument("--small", type=int, default=small, help="first batch count of the slope")
    parser.add_argument("--batches", type=int, default=batches, help="second batch count of the slope")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
