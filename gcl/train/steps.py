"""Per-step loss terms a method's training loop reports, so a NaN names its step.

A method's ``train_epoch`` runs many optimisation steps but returns epoch means, so a NaN in
one step surfaces only as a NaN mean. A loop that calls :func:`record_step` once per step
with that step's loss terms lets :class:`gcl.train.Trainer` name the step and the term::

    for users, pos, neg in batches:
        loss, parts = model.loss(users, pos, neg)
        record_step({"loss": loss.detach(), **parts})
        loss.backward()
        optimizer.step()

Steps are numbered 1, 2, ... by the calls within an epoch. A value that is a Python number
is checked at once (the run stops inside that step, before its update). A tensor stays on
its device and all of an epoch's tensors are checked together when the epoch ends (one
host-device synchronisation per term and epoch instead of one per step); the run then stops
at the end of that epoch, naming the first bad step. Either way nothing of the bad epoch is
logged or checkpointed. Outside :meth:`gcl.train.Trainer.fit` the call does nothing.

The engine also counts optimiser steps (:func:`count_optimizer_steps`): an epoch of exactly one
step (full-batch methods) names step 1 without any call to :func:`record_step`.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Iterator

import torch

from gcl.train.errors import NonFiniteLossError

_ACTIVE: ContextVar["StepLog | None"] = ContextVar("gcl_train_step_log", default=None)


class StepLog:
    """The per-step loss terms of one epoch (see the module docstring).

    Args:
        epoch: the 1-based epoch being trained (named in errors).

    Attributes:
        steps: calls to :meth:`record` so far this epoch.
        optimizer_steps: optimiser steps taken so far this epoch (counted by the engine).
    """

    def __init__(self, epoch: int):
        self.epoch = epoch
        self.steps = 0
        self.optimizer_steps = 0
        self._pending: dict[str, list[tuple[int, torch.Tensor]]] = {}

    def record(self, terms: Mapping[str, float | torch.Tensor]) -> None:
        """Add one step's terms; raise at once on a non-finite Python number.

        Raises:
            NonFiniteLossError: a number among ``terms`` is NaN or infinite.
            ValueError: a tensor term has more than one element.
        """
        self.steps += 1
        for name, value in terms.items():
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise ValueError(
                        f"loss term {name!r} of step {self.steps} has shape {tuple(value.shape)}; "
                        "record one number per term"
                    )
                self._pending.setdefault(name, []).append((self.steps, value.detach().reshape(())))
            elif not math.isfinite(float(value)):
                raise NonFiniteLossError(self.epoch, name, float(value), self.steps)

    def check(self) -> None:
        """Raise for the earliest recorded step holding a non-finite tensor term.

        Raises:
            NonFiniteLossError: naming the epoch, the step and the term (the first term
                recorded, among those non-finite at that step).
        """
        first: tuple[int, str, float] | None = None
        for name, items in self._pending.items():
            values = torch.stack([v.to(torch.float32) for _, v in items])
            bad = ~torch.isfinite(values)
            if bool(bad.any()):
                i = int(bad.nonzero()[0, 0])
                step = items[i][0]
                if first is None or step < first[0]:
                    first = (step, name, float(values[i]))
        if first is not None:
            raise NonFiniteLossError(self.epoch, first[1], first[2], first[0])

    def single_step(self) -> int | None:
        """``1`` when the epoch took exactly one optimiser step and recorded none itself."""
        return 1 if self.steps == 0 and self.optimizer_steps == 1 else None


def record_step(terms: Mapping[str, float | torch.Tensor]) -> None:
    """Report one optimisation step's loss terms to the running :class:`~gcl.train.Trainer`.

    Args:
        terms: term name -> value (a Python number or a one-element tensor; tensors are
            detached and not synchronised here).

    Raises:
        NonFiniteLossError: a Python-number term is NaN or infinite (names epoch, step, term).
    """
    log = _ACTIVE.get()
    if log is not None:
        log.record(terms)


@contextlib.contextmanager
def epoch_steps(epoch: int) -> Iterator[StepLog]:
    """Make a fresh :class:`StepLog` the target of :func:`record_step` within the block."""
    log = StepLog(epoch)
    token = _ACTIVE.set(log)
    try:
        yield log
    finally:
        _ACTIVE.reset(token)


def _optimizers(optimizer: Any) -> list[torch.optim.Optimizer]:
    """The torch optimisers inside ``optimizer`` (itself, or the members of a mapping)."""
    if isinstance(optimizer, torch.optim.Optimizer):
        return [optimizer]
    if isinstance(optimizer, Mapping):
        return [o for o in optimizer.values() if isinstance(o, torch.optim.Optimizer)]
    return []


@contextlib.contextmanager
def count_optimizer_steps(optimizer: Any) -> Iterator[None]:
    """While the block runs, count every ``step()`` of ``optimizer`` (or of each optimiser of
    a group such as :class:`~gcl.train.optim_group.OptimizerGroup`) into the active
    :class:`StepLog` (the one of the running :func:`epoch_steps` block, if any)."""

    def hook(*_: Any) -> None:
        log = _ACTIVE.get()
        if log is not None:
            log.optimizer_steps += 1

    handles = [opt.register_step_post_hook(hook) for opt in _optimizers(optimizer)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


__all__ = ["StepLog", "count_optimizer_steps", "epoch_steps", "record_step"]
