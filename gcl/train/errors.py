"""Errors raised by the training engine."""
from __future__ import annotations

from pathlib import Path


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the run stops and keeps its last good checkpoint.

    Attributes:
        epoch: 1-based epoch in which it happened.
        step: 1-based step within the epoch, when the method reports it.
        term: the name of the loss term.
        value: the offending value.
    """

    def __init__(self, epoch: int, term: str, value: float, step: int | None = None):
        self.epoch, self.term, self.value, self.step = epoch, term, value, step
        where = f"epoch {epoch}" + (f", step {step}" if step is not None else "")
        super().__init__(
            f"loss term {term!r} is {value} at {where}; stopping. The last good checkpoint "
            "(if any) is kept: lower the learning rate or check the inputs, then --resume"
        )


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read (truncated, corrupt, from another run) or written."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        super().__init__(f"{path}: {problem}")
