"""DEC clustering head losses (Xie et al., 2016), as used by SCGC* and PamC.

- Soft assignment (Student's t, ``v`` degrees of freedom; v = 1 in DEC):
  ``q_ik = (1 + ||z_i - mu_k||^2 / v)^(-(v+1)/2) / sum_k' (...)``.
- Target: ``p_ik = (q_ik^2 / f_k) / sum_k' (q_ik'^2 / f_k')`` with ``f_k = sum_i q_ik``.
- Loss: ``KL(P || Q) = (1/N) sum_i sum_k p_ik log(p_ik / q_ik)``.

Distances come from ``torch.cdist`` (an N x K matrix, never N x K x d).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def student_t_assignment(z: Tensor, centroids: Tensor, v: float = 1.0) -> Tensor:
    """Soft assignment Q [N, K] of embeddings z [N, d] to centroids [K, d]."""
    if z.dim() != 2 or centroids.dim() != 2 or z.size(1) != centroids.size(1):
        raise ValueError(f"z and centroids must be [N, d] and [K, d], got {tuple(z.shape)} and "
                         f"{tuple(centroids.shape)}")
    if not v > 0:
        raise ValueError(f"degrees of freedom v must be > 0, got {v}")
    sq = torch.cdist(z, centroids.to(z.dtype)).pow(2)
    q = (1.0 + sq / v).pow(-(v + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


def dec_target(q: Tensor) -> Tensor:
    """Sharpened target P [N, K] from Q [N, K] (computed without gradient)."""
    q = q.detach()
    w = q.pow(2) / q.sum(dim=0)
    return w / w.sum(dim=1, keepdim=True)


def dec_kl_loss(p: Tensor, q: Tensor) -> Tensor:
    """``(1/N) sum_ik p_ik log(p_ik / q_ik)`` (terms with p_ik = 0 count 0)."""
    if p.shape != q.shape or p.dim() != 2:
        raise ValueError(f"p and q must both be [N, K], got {tuple(p.shape)} and {tuple(q.shape)}")
    return torch.xlogy(p, p).sub(p * torch.log(q)).sum() / p.size(0)


class DECLoss(nn.Module):
    """``KL(P || Q)`` for embeddings and centroids: ``forward(z, centroids, p=None)``.

    ``p`` is the target (recomputed by the caller, e.g. once per epoch); ``None`` uses the
    target of the current Q, detached.

    Args:
        v: Student's t degrees of freedom.
    """

    def __init__(self, v: float = 1.0):
        super().__init__()
        self.v = v

    def forward(self, z: Tensor, centroids: Tensor, p: Tensor | None = None) -> Tensor:
        q = student_t_assignment(z, centroids, self.v)
        return dec_kl_loss(dec_target(q) if p is None else p, q)
