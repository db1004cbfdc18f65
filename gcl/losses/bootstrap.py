"""Bootstrap (BYOL / BGRL) loss: predict the target network's embedding of the other view.

    l(q, y) = 2 - 2 mean_i cos(q_i, sg(y_i))

with online predictions q and target embeddings y (gradient stopped). BGRL's symmetric loss
``2 - mean cos(q1, y2) - mean cos(q2, y1)`` is the average of the two directions
(``symmetric_bootstrap_loss``). The target network is an exponential moving average of the
online encoder: see :class:`gcl.losses.ema.EMATarget`.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def bootstrap_loss(pred: Tensor, target: Tensor) -> Tensor:
    """``2 - 2 mean_i cos(pred_i, target_i)``, target detached; rows [N, d]."""
    if pred.shape != target.shape or pred.dim() != 2:
        raise ValueError(f"pred and target must both be [N, d], got {tuple(pred.shape)} and {tuple(target.shape)}")
    return 2 - 2 * F.cosine_similarity(pred, target.detach(), dim=-1).mean()


def symmetric_bootstrap_loss(pred1: Tensor, target2: Tensor, pred2: Tensor, target1: Tensor) -> Tensor:
    """BGRL: ``(l(q1, y2) + l(q2, y1)) / 2 = 2 - mean cos(q1, y2) - mean cos(q2, y1)``."""
    return 0.5 * (bootstrap_loss(pred1, target2) + bootstrap_loss(pred2, target1))


class BootstrapLoss(nn.Module):
    """Bootstrap loss as a module: ``forward(pred, target)`` or, with ``symmetric=True``,
    ``forward(pred1, target2, pred2, target1)``."""

    def __init__(self, *, symmetric: bool = False):
        super().__init__()
        self.symmetric = symmetric

    def forward(self, *tensors: Tensor) -> Tensor:
        if self.symmetric:
            if len(tensors) != 4:
                raise ValueError(f"symmetric bootstrap loss takes (pred1, target2, pred2, target1), got {len(tensors)} tensors")
            return symmetric_bootstrap_loss(*tensors)
        if len(tensors) != 2:
            raise ValueError(f"bootstrap loss takes (pred, target), got {len(tensors)} tensors")
        return bootstrap_loss(*tensors)

    def extra_repr(self) -> str:
        return f"symmetric={self.symmetric}"
