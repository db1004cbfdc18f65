"""Learnable representation augmenter of MCLRec (Qin et al., SIGIR 2023).

An MLP applied to a pooled sequence representation, followed by L2 normalisation:

    w_φ(h) = normalize(W_3 GELU(W_2 GELU(W_1 h + b_1) + b_2) + b_3)       widths [d, d/2, d/4, d]

GELU in its erf form; PyTorch's default ``nn.Linear`` initialisation (the official code does
not re-initialise it). The official code hard-codes the widths ``[64, 32, 16, 64]``; here they
follow ``d``. Outputs are unit rows (``‖w_φ(h)‖ = 1``), inputs are not.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gcl.nn.mlp import MLP


class LearnableAugmenter(nn.Module):
    """``[*, d] -> [*, d]`` unit-norm MLP view (module docstring).

    Args:
        dim: d, the representation size (divisible by 4 for the default widths).
        widths: hidden widths between ``d`` and ``d`` (default ``[d // 2, d // 4]``).
    """

    def __init__(self, dim: int, widths: list[int] | None = None):
        super().__init__()
        hidden = [dim // 2, dim // 4] if widths is None else list(widths)
        if dim < 1 or any(w < 1 for w in hidden):
            raise ValueError(f"augmenter widths must be positive, got dim={dim}, hidden={hidden}")
        self.mlp = MLP([dim, *hidden, dim], activation=nn.GELU)

    def forward(self, h: Tensor) -> Tensor:
        return F.normalize(self.mlp(h), dim=-1)


__all__ = ["LearnableAugmenter"]
