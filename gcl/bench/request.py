"""What a benchmark run is asked to do, and what it hands back."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcl.train import TrainResult


@dataclass
class BenchRequest:
    """One ``gcl bench`` invocation.

    Attributes:
        method: registered method name (``grace``, ...).
        dataset: dataset name for :func:`gcl.data.load`.
        out_dir: where ``result.json``, ``curve.png``, ``metrics.jsonl`` and checkpoints go.
        epochs: override of the method's default epoch count.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        seed: seed of every RNG.
        root: data root (else ``GCL_DATA`` / bundled ``datasets/``).
        overrides: method hyper-parameters from ``--config``.
        resume: continue from the checkpoint in ``out_dir``.
        quiet: no progress bar.
    """

    method: str
    dataset: str
    out_dir: Path
    epochs: int | None = None
    device: str = "auto"
    seed: int = 0
    root: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    quiet: bool = False


@dataclass
class BenchOutcome:
    """What a method's benchmark runner returns.

    Attributes:
        protocol: one sentence stating how the numbers were obtained (split, selection, runs).
        config: the method's full hyper-parameters.
        metrics: the final figures (validation at the selected epoch, test once).
        train: the engine's result (history, selected epoch).
        device: the device actually used.
    """

    protocol: str
    config: dict[str, Any]
    metrics: dict[str, float]
    train: TrainResult
    device: str
