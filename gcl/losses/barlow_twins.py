"""Barlow Twins loss (Zbontar et al., ICML 2021).

Each view is standardised per dimension over the batch (batch-norm without affine parameters,
biased variance, ``eps``): ``ẑ = (z - mean) / sqrt(var + eps)``. With the cross-correlation
``C = ẑ1^T ẑ2 / N`` (d x d):

    L = sum_k (1 - C_kk)^2 + lambda sum_{k != l} C_kl^2

``lambda = 0.0051`` is the original's default (graph Barlow Twins uses ``1/d``). Memory O(N d + d^2).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def _standardise(z: Tensor, eps: float) -> Tensor:
    return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)


def barlow_twins_loss(z1: Tensor, z2: Tensor, lambd: float = 0.0051, *, eps: float = 1e-5) -> Tensor:
    """Barlow Twins loss of two row-aligned views [N, d] (see the module docstring)."""
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be [N, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.size(0) < 2:
        raise ValueError(f"Barlow Twins needs a batch of at least 2 rows, got {z1.size(0)}")
    c = _standardise(z1, eps).T @ _standardise(z2, eps) / z1.size(0)
    diag = torch.diagonal(c)
    on = (1 - diag).pow(2).sum()
    off = c.pow(2).sum() - diag.pow(2).sum()
    return on + lambd * off


class BarlowTwinsLoss(nn.Module):
    """Barlow Twins loss as a module: ``forward(z1, z2)``.

    Args:
        lambd: off-diagonal weight (``None``: ``1/d``, as graph Barlow Twins).
        eps: variance epsilon of the standardisation.
    """

    def __init__(self, lambd: float | None = 0.0051, *, eps: float = 1e-5):
        super().__init__()
        self.lambd, self.eps = lambd, eps

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        lambd = 1.0 / z1.size(-1) if self.lambd is None else self.lambd
        return barlow_twins_loss(z1, z2, lambd, eps=self.eps)

    def extra_repr(self) -> str:
        return f"lambd={self.lambd}"
