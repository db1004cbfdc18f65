"""NaN/Inf checks of loss terms and of the training state the engine is about to checkpoint."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Iterator

import torch

from gcl.train.errors import NonFiniteLossError, NonFiniteStateError


def check_finite(
    terms: Mapping[str, float | torch.Tensor], epoch: int, step: int | None = None
) -> None:
    """Raise :class:`NonFiniteLossError` naming the first NaN/Inf term in ``terms``."""
    for name, value in terms.items():
        v = float(value)
        if not math.isfinite(v):
            raise NonFiniteLossError(epoch, name, v, step)


def _floating_tensors(tree: Any, prefix: str) -> Iterator[tuple[str, torch.Tensor]]:
    """``(dotted name, tensor)`` for every floating-point tensor in nested dicts/lists."""
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point() or tree.is_complex():
            yield prefix, tree
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _floating_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from _floating_tensors(value, f"{prefix}.{i}" if prefix else str(i))


def first_non_finite(tree: Any, prefix: str = "") -> tuple[str, float] | None:
    """The first floating-point tensor in ``tree`` holding a NaN or infinity, or ``None``.

    Args:
        tree: a tensor or nested dicts/lists/tuples of tensors (a ``state_dict``).
        prefix: prepended to the dotted names.

    Returns:
        ``(dotted name, one offending value)``, in the order the tree is walked. Costs one
        ``isfinite`` pass over every tensor and one host-device synchronisation per device.
    """
    tensors = list(_floating_tensors(tree, prefix))
    by_device: dict[torch.device, list[int]] = {}
    for i, (_, t) in enumerate(tensors):
        by_device.setdefault(t.device, []).append(i)
    bad: list[int] = []
    for device, indices in by_device.items():
        flags = torch.stack([torch.isfinite(tensors[i][1]).all() for i in indices])
        if not bool(flags.all()):
            bad += [indices[j] for j in torch.nonzero(~flags).flatten().tolist()]
    if not bad:
        return None
    name, tensor = tensors[min(bad)]
    values = tensor.detach().reshape(-1)
    return name, float(values[~torch.isfinite(values)][0])


def check_state_finite(model_state: Any, optimizer_state: Any, epoch: int) -> None:
    """Raise :class:`NonFiniteStateError` if the model or optimiser state holds NaN/Inf.

    Run before a checkpoint is written, so a diverged state (e.g. an infinite gradient that
    left the reported loss finite) never replaces the last good checkpoint.
    """
    found = first_non_finite(model_state) or first_non_finite(optimizer_state, "optimizer")
    if found is not None:
        raise NonFiniteStateError(epoch, found[0], found[1])


__all__ = ["check_finite", "check_state_finite", "first_non_finite"]
