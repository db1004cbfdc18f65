"""Row blocks of positive and negative logits shared by the NT-Xent variants (DCL, debiased,
hard-negative): anchors ``z1``, candidates ``z2``, positive ``c_{p(i)}``.

For anchor rows ``start:stop`` a block gives ``pos_logit [B] = s(a_i, c_{p(i)})`` and the negative
logits ``[B, M (+ N)]``: every candidate except the positive, then (``intra_view``) every other
anchor, with the excluded entries at ``-inf``. Each anchor has ``M - 1 (+ N - 1)`` negatives.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gcl.losses._chunk import check_chunk_size
from gcl.losses.temperature import check_tau

Block = Callable[[int, int], "tuple[Tensor, Tensor]"]


def pair_logit_blocks(z1: Tensor, z2: Tensor, tau: float | Tensor, *, pos_index: Tensor | None,
                      intra_view: bool, normalize: bool, chunk_size: int | None) -> tuple[Block, int, Tensor]:
    """Validate the inputs and return ``(block, num_negatives, pos_index)``."""
    check_tau(tau)
    check_chunk_size(chunk_size)
    if z1.dim() != 2 or z2.dim() != 2 or z1.size(1) != z2.size(1):
        raise ValueError(f"z1 and z2 must be [N, d] and [M, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n, m = z1.size(0), z2.size(0)
    if pos_index is None:
        if m != n:
            raise ValueError(f"row-aligned positives need z1 and z2 of equal length, got {n} and {m}")
        pos_index = torch.arange(n, device=z1.device)
    elif pos_index.shape != (n,):
        raise ValueError(f"pos_index must have shape [{n}], got {tuple(pos_index.shape)}")
    num_neg = (m - 1) + (n - 1 if intra_view else 0)
    if num_neg < 1:
        raise ValueError("each anchor needs at least one negative: use more than one row")
    if normalize:
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)

    def block(start: int, stop: int) -> tuple[Tensor, Tensor]:
        a = z1[start:stop] / tau
        rows = torch.arange(stop - start, device=a.device)
        inter = a @ z2.T                                                     # [B, M]
        cols = pos_index[start:stop]
        pos_logit = inter[rows, cols]
        neg = inter.index_put((rows, cols), inter.new_tensor(float("-inf")))
        if intra_view:
            intra = a @ z1.T                                                 # [B, N]
            intra = intra.index_put((rows, rows + start), intra.new_tensor(float("-inf")))
            neg = torch.cat([neg, intra], dim=1)
        return pos_logit, neg

    return block, num_neg, pos_index
