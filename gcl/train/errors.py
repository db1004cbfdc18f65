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


class NonFiniteStateError(NonFiniteLossError):
    """The parameters or optimiser state hold NaN/Inf although the loss terms were finite.

    Raised before a checkpoint would be written (an infinite gradient, for instance, can
    leave the reported loss finite and the updated parameters not), so the diverged state
    never replaces the last good checkpoint. A subclass of :class:`NonFiniteLossError`, so
    code stopping on one stops on both.

    Attributes:
        epoch: the epoch after which the state was found non-finite.
        term: the dotted name of the offending tensor (``"encoder.weight"``,
            ``"optimizer.state.0.exp_avg"``).
        value: one offending value.
    """

    def __init__(self, epoch: int, name: str, value: float):
        FloatingPointError.__init__(
            self,
            f"{name!r} holds {value} after epoch {epoch}, though the loss terms were finite "
            "(an infinite gradient or update?); stopping without checkpointing this state. "
            "The last good checkpoint (if any) is kept: lower the learning rate or check the "
            "inputs, then --resume",
        )
        self.epoch, self.term, self.value, self.step = epoch, name, value, None


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read (truncated, corrupt, from another run) or written."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        super().__init__(f"{path}: {problem}")
