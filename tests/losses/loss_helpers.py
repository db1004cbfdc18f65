"""Shared test helpers: gradients of a function of leaf copies, closeness at 1e-5, Adam runs."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

TOL = dict(atol=1e-5, rtol=1e-5)


def value_and_grads(fn: Callable[..., Tensor], *tensors: Tensor) -> tuple[Tensor, ...]:
    """``(fn(*leaves), *grads)`` for fresh leaf copies of ``tensors``."""
    leaves = [t.detach().clone().requires_grad_() for t in tensors]
    out = fn(*leaves)
    out.backward()
    return (out.detach(),) + tuple(l.grad for l in leaves)


def assert_close_all(got: Sequence[Tensor], want: Sequence[Tensor], **tol) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, **(tol or TOL))


def adam_losses(loss_fn: Callable[[], Tensor], params: Sequence[Tensor], steps: int = 20,
                lr: float = 0.05) -> list[float]:
    """Run Adam on ``params`` minimising ``loss_fn()``; returns the loss before each step."""
    opt = torch.optim.Adam(params, lr=lr)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        out.append(float(loss.detach()))
    return out
