"""VICReg loss (Bardes, Ponce, LeCun, ICLR 2022).

For two row-aligned views x, y [N, d]:

- invariance: ``mse(x, y)`` (mean over N d entries);
- variance: ``(mean_k relu(gamma - sqrt(Var(x_k) + eps)) + mean_k relu(gamma - sqrt(Var(y_k) + eps))) / 2``
  with the unbiased variance over the batch;
- covariance: ``(sum_{k != l} Cov(x)_kl^2 + sum_{k != l} Cov(y)_kl^2) / d``, ``Cov = x_c^T x_c / (N - 1)``;
- ``L = sim_coeff * inv + std_coeff * var + cov_coeff * cov`` with defaults 25, 25, 1, gamma 1,
  eps 1e-4 (the original's). Memory O(N d + d^2).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _off_diagonal_sq_sum(m: Tensor) -> Tensor:
    return m.pow(2).sum() - torch.diagonal(m).pow(2).sum()


def vicreg_loss(x: Tensor, y: Tensor, *, sim_coeff: float = 25.0, std_coeff: float = 25.0,
                cov_coeff: float = 1.0, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """VICReg loss (see the module docstring)."""
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f"x and y must both be [N, d], got {tuple(x.shape)} and {tuple(y.shape)}")
    n, d = x.shape
    if n < 2:
        raise ValueError(f"VICReg needs a batch of at least 2 rows, got {n}")
    inv = F.mse_loss(x, y)
    xc, yc = x - x.mean(dim=0), y - y.mean(dim=0)
    std_x = torch.sqrt(xc.var(dim=0) + eps)
    std_y = torch.sqrt(yc.var(dim=0) + eps)
    var = 0.5 * (F.relu(gamma - std_x).mean() + F.relu(gamma - std_y).mean())
    cov = (_off_diagonal_sq_sum(xc.T @ xc / (n - 1)) + _off_diagonal_sq_sum(yc.T @ yc / (n - 1))) / d
    return sim_coeff * inv + std_coeff * var + cov_coeff * cov


class VICRegLoss(nn.Module):
    """VICReg loss as a module: ``forward(x, y)``; arguments as :func:`vicreg_loss`."""

    def __init__(self, *, sim_coeff: float = 25.0, std_coeff: float = 25.0, cov_coeff: float = 1.0,
                 gamma: float = 1.0, eps: float = 1e-4):
        super().__init__()
        self.sim_coeff, self.std_coeff, self.cov_coeff = sim_coeff, std_coeff, cov_coeff
        self.gamma, self.eps = gamma, eps

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return vicreg_loss(x, y, sim_coeff=self.sim_coeff, std_coeff=self.std_coeff, cov_coeff=self.cov_coeff,
                           gamma=self.gamma, eps=self.eps)

    def extra_repr(self) -> str:
        return f"sim_coeff={self.sim_coeff}, std_coeff={self.std_coeff}, cov_coeff={self.cov_coeff}"
