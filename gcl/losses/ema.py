"""An exponential-moving-average target copy of a module (BYOL, BGRL).

``EMATarget(online, momentum)`` deep-copies ``online`` and turns every parameter of the copy into
a buffer: the copy has no ``nn.Parameter``, so ``model.parameters()`` (and any optimizer built from
it) never includes it, while ``state_dict()``, ``.to()`` and checkpoints still carry it. After each
optimizer step ``update()`` moves the target towards the online weights:

    theta_target <- m theta_target + (1 - m) theta_online

BGRL anneals m from ``base`` to 1 with :func:`cosine_momentum`. The target's own buffers (e.g.
batch-norm statistics) evolve with its forward passes unless ``copy_buffers=True``.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn


def cosine_momentum(step: int, total_steps: int, base: float = 0.99) -> float:
    """``1 - (1 - base) (cos(pi step / total_steps) + 1) / 2``: ``base`` at step 0, 1 at the end."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    frac = min(max(step, 0), total_steps) / total_steps
    return 1 - (1 - base) * (math.cos(math.pi * frac) + 1) / 2


def _params_to_buffers(module: nn.Module) -> None:
    """Replace every parameter of ``module`` (and its children) by a buffer with the same name,
    keeping shared parameters shared."""
    seen: dict[int, Tensor] = {}
    for sub in module.modules():
        for name, p in list(sub._parameters.items()):
            if p is None:
                continue
            buf = seen.setdefault(id(p), p.detach().clone())
            del sub._parameters[name]
            sub.register_buffer(name, buf)


class EMATarget(nn.Module):
    """A momentum-updated target copy of ``online`` that holds no parameters.

    Args:
        online: the online module (kept by reference, not registered as a child).
        momentum: m in [0, 1]; 1 freezes the target.
        copy_buffers: also copy the online module's buffers at each update.

    Calling the module runs the target copy under ``torch.no_grad()``.
    """

    def __init__(self, online: nn.Module, momentum: float = 0.99, *, copy_buffers: bool = False):
        super().__init__()
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
        self.momentum, self.copy_buffers = momentum, copy_buffers
        self.target = copy.deepcopy(online)
        _params_to_buffers(self.target)
        self.target.requires_grad_(False)
        self.__dict__["_online"] = online  # a plain reference: online stays out of this module's tree

    @property
    def online(self) -> nn.Module:
        return self.__dict__["_online"]

    @torch.no_grad()
    def update(self, momentum: float | None = None) -> None:
        """``target <- m target + (1 - m) online`` for every parameter (``m`` defaults to ``self.momentum``)."""
        m = self.momentum if momentum is None else momentum
        if not 0 <= m <= 1:
            raise ValueError(f"momentum must lie in [0, 1], got {m}")
        target = dict(self.target.named_buffers())
        for name, p in self.online.named_parameters():
            if name not in target:
                raise RuntimeError(f"online parameter {name!r} has no counterpart in the target copy")
            target[name].mul_(m).add_(p.detach().to(target[name].dtype), alpha=1 - m)
        if self.copy_buffers:
            for name, b in self.online.named_buffers():
                target[name].copy_(b)

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return self.target(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}"
