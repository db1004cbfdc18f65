"""Decoupled contrastive loss (DCL) and its weighted form DCLW (Yeh et al., ECCV 2022).

DCL removes the positive from the InfoNCE denominator. For anchor ``a_i`` with positive
``c_{p(i)}`` and negatives ``N_i`` (all other candidates and, with ``intra_view``, all other
anchors), ``s(u, v) = u . v / tau``:

    l_i = -w_i s(a_i, c_{p(i)}) + log sum_{k in N_i} exp s(a_i, k)

``w_i = 1`` (DCL), or with ``sigma`` (DCLW, von Mises-Fisher weighting)
``w_i = 2 - N exp(a_i . c_{p(i)} / sigma) / sum_k exp(a_k . c_{p(k)} / sigma)`` over the N anchors
(not detached, as in the original). ``symmetric=True`` averages the two directions (the original
sums them). Row-chunked under checkpointing: memory O(chunk x (M + N)).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.losses._chunk import checkpointed_rows
from gcl.losses._pairs import pair_logit_blocks
from gcl.losses.temperature import Temperature


def _one_direction(z1: Tensor, z2: Tensor, tau, pos_index, sigma, intra_view, normalize, chunk_size) -> Tensor:
    block, _, pos_index = pair_logit_blocks(z1, z2, tau, pos_index=pos_index, intra_view=intra_view,
                                            normalize=normalize, chunk_size=chunk_size)

    def rows(start: int, stop: int) -> Tensor:
        pos_logit, neg = block(start, stop)
        return torch.stack([pos_logit, torch.logsumexp(neg, dim=1)], dim=1)

    out = checkpointed_rows(rows, z1.size(0), chunk_size)
    pos_logit, neg_lse = out[:, 0], out[:, 1]
    if sigma is not None:
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        u, v = (F.normalize(z1, dim=1), F.normalize(z2, dim=1)) if normalize else (z1, z2)
        cos = (u * v[pos_index]).sum(dim=1)
        weight = 2 - z1.size(0) * torch.softmax(cos / sigma, dim=0)
        pos_logit = weight * pos_logit
    return (neg_lse - pos_logit).mean()


def decoupled_contrastive_loss(z1: Tensor, z2: Tensor, tau: float | Tensor = 0.1, *,
                               pos_index: Tensor | None = None, sigma: float | None = None,
                               intra_view: bool = True, normalize: bool = True, symmetric: bool = False,
                               chunk_size: int | None = None) -> Tensor:
    """DCL / DCLW, mean over anchors (see the module docstring).

    Args:
        z1: [N, d] anchors.
        z2: [M, d] candidates.
        tau: temperature.
        pos_index: [N] positive candidate rows (default: row alignment).
        sigma: DCLW weighting width; ``None`` is plain DCL.
        intra_view: other anchors are negatives too.
        normalize: cosine similarity.
        symmetric: average with the z2 -> z1 direction (row-aligned only).
        chunk_size: anchors per block.
    """
    args = (sigma, intra_view, normalize, chunk_size)
    loss = _one_direction(z1, z2, tau, pos_index, *args)
    if symmetric:
        if pos_index is not None:
            raise ValueError("symmetric=True needs row-aligned positives (pos_index=None)")
        loss = 0.5 * (loss + _one_direction(z2, z1, tau, None, *args))
    return loss


class DecoupledContrastiveLoss(nn.Module):
    """DCL / DCLW as a module: ``forward(z1, z2, *, pos_index=None)``.

    Args:
        tau: temperature (initial value when ``learn_tau``).
        sigma: DCLW weighting width (``None``: DCL).
        intra_view, normalize, symmetric, chunk_size: see :func:`decoupled_contrastive_loss`.
        learn_tau: learn ``log tau``.
    """

    def __init__(self, tau: float = 0.1, *, sigma: float | None = None, intra_view: bool = True,
                 normalize: bool = True, symmetric: bool = True, chunk_size: int | None = None,
                 learn_tau: bool = False):
        super().__init__()
        self.temperature = Temperature(tau, learnable=learn_tau)
        self.sigma, self.intra_view, self.normalize = sigma, intra_view, normalize
        self.symmetric, self.chunk_size = symmetric, chunk_size

    def forward(self, z1: Tensor, z2: Tensor, *, pos_index: Tensor | None = None) -> Tensor:
        return decoupled_contrastive_loss(z1, z2, self.temperature(), pos_index=pos_index, sigma=self.sigma,
                                          intra_view=self.intra_view, normalize=self.normalize,
                                          symmetric=self.symmetric, chunk_size=self.chunk_size)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, symmetric={self.symmetric}, chunk_size={self.chunk_size}"
