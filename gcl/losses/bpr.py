"""Bayesian personalised ranking (BPR) loss with the embedding L2 terms of LightGCN / LightGCL.

    L_BPR = mean_b -log sigmoid(s(u_b, i_b^+) - s(u_b, i_b^-)) = mean_b softplus(s^- - s^+)

with ``s(u, i) = e_u . e_i``. The optional regulariser:

- ``reg_style="lightgcn"``: ``reg_weight * 1/2 (||E_u^0||^2 + ||E_{i+}^0||^2 + ||E_{i-}^0||^2) / B``
  on the batch rows of the layer-0 embeddings (LightGCN);
- ``reg_style="sum"``: ``reg_weight * sum_t ||t||_F^2`` over the given tensors, e.g. the full
  layer-0 tables (LightGCL ``repo`` preset, ``lambda2 (||E_u^0||^2 + ||E_i^0||^2)``).
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

_STYLES = ("lightgcn", "sum")


def bpr_loss(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    """``mean softplus(neg - pos)`` for scores of the same shape."""
    if pos_scores.shape != neg_scores.shape:
        raise ValueError(f"pos_scores and neg_scores must have the same shape, got "
                         f"{tuple(pos_scores.shape)} and {tuple(neg_scores.shape)}")
    return F.softplus(neg_scores - pos_scores).mean()


def embedding_l2(tensors: Sequence[Tensor], *, style: str = "lightgcn", batch_size: int | None = None) -> Tensor:
    """``1/2 sum ||t||^2 / batch_size`` (``"lightgcn"``) or ``sum ||t||^2`` (``"sum"``)."""
    if style not in _STYLES:
        raise ValueError(f"style must be one of {_STYLES}, got {style!r}")
    if not tensors:
        raise ValueError("embedding_l2 needs at least one tensor")
    sq = sum(t.pow(2).sum() for t in tensors)
    if style == "sum":
        return sq
    if batch_size is None or batch_size < 1:
        raise ValueError(f"the 'lightgcn' style needs a positive batch_size, got {batch_size}")
    return 0.5 * sq / batch_size


class BPRLoss(nn.Module):
    """BPR on embeddings plus an optional L2 term: ``forward(users, pos_items, neg_items, *, reg=())``.

    Args:
        reg_weight: weight of the L2 term (0: none).
        reg_style: ``"lightgcn"`` (batch rows, 1/2, divided by B) or ``"sum"``.

    ``users, pos_items, neg_items`` are [B, d] final embeddings; ``reg`` the tensors to regularise
    (LightGCN: the batch rows of the layer-0 embeddings; LightGCL: the full layer-0 tables).
    """

    def __init__(self, reg_weight: float = 0.0, *, reg_style: str = "lightgcn"):
        super().__init__()
        if reg_style not in _STYLES:
            raise ValueError(f"reg_style must be one of {_STYLES}, got {reg_style!r}")
        if reg_weight < 0:
            raise ValueError(f"reg_weight must be >= 0, got {reg_weight}")
        self.reg_weight, self.reg_style = reg_weight, reg_style

    def forward(self, users: Tensor, pos_items: Tensor, neg_items: Tensor, *, reg: Sequence[Tensor] = ()) -> Tensor:
        if not (users.shape == pos_items.shape == neg_items.shape) or users.dim() != 2:
            raise ValueError(f"users, pos_items, neg_items must all be [B, d], got {tuple(users.shape)}, "
                             f"{tuple(pos_items.shape)}, {tuple(neg_items.shape)}")
        loss = bpr_loss((users * pos_items).sum(dim=1), (users * neg_items).sum(dim=1))
        if self.reg_weight and reg:
            loss = loss + self.reg_weight * embedding_l2(reg, style=self.reg_style, batch_size=users.size(0))
        elif self.reg_weight and not reg:
            raise ValueError("reg_weight > 0 needs the tensors to regularise (reg=...)")
        return loss

    def extra_repr(self) -> str:
        return f"reg_weight={self.reg_weight}, reg_style={self.reg_style}"
