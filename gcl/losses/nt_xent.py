"""NT-Xent over the ``2B`` rows of two views (SimCLR; the form used by CL4SRec, DuoRec, MCLRec).

For two row-aligned views ``x, y`` ``[B, d]`` stack ``u = [x; y]`` ``[2B, d]`` and score every
pair of rows,

    S = u uᵀ / t                       (dot product; ``similarity="cos"`` normalises rows first)

Row ``i``'s positive is its partner ``p(i) = (i + B) mod 2B`` (the other view of the same
example); its negatives are the other ``2B − 2`` rows (all rows except ``i`` and ``p(i)``):

    ℓ_i = −S_{i,p(i)} + log Σ_{j ≠ i} exp S_ij           L = (1 / 2B) Σ_i ℓ_i

i.e. the cross-entropy of row ``i`` over its positive and its ``2B − 2`` negatives, averaged over
the ``2B`` anchors. The MCLRec paper (Eq. 8) writes the sum of the two directions, ``2 L``; the
official code, followed here, averages. The value equals
:func:`gcl.losses.symmetric_info_nce` ``(x, y, t, intra_view=True, normalize=...)``; this module
works on the explicit ``[2B, 2B]`` score matrix instead, because the MCLRec regulariser
(:mod:`gcl.losses.contrastive_regularizer`) reads the same positives and negatives, so one
matrix serves both (:func:`two_view_scores`, :func:`nt_xent_from_scores`).

The masks (self pairs, negatives) and the partner index depend only on ``B`` and the device:
they are built once per ``(B, device)`` and cached (read-only), never per call. Memory is
``O(B²)``: meant for mini-batches (B = 256 gives a 512 x 512 matrix).
"""
from __future__ import annotations

import functools
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.losses.temperature import check_tau

Similarity = Literal["dot", "cos"]
_SIMILARITIES = ("dot", "cos")


@functools.lru_cache(maxsize=32)
def self_pair_mask(batch_size: int, device: torch.device) -> Tensor:
    """``[2B, 2B]`` bool, True on the diagonal (a row paired with itself). Cached; read-only."""
    with torch.inference_mode(False):  # a cached tensor must stay usable by autograd
        return torch.eye(2 * batch_size, dtype=torch.bool, device=device)


@functools.lru_cache(maxsize=32)
def partner_index(batch_size: int, device: torch.device) -> Tensor:
    """``[2B]`` int64 ``p(i) = (i + B) mod 2B``: the positive of every row. Cached; read-only."""
    with torch.inference_mode(False):
        return torch.arange(2 * batch_size, device=device).add(batch_size).remainder(2 * batch_size)


@functools.lru_cache(maxsize=32)
def negative_mask(batch_size: int, device: torch.device) -> Tensor:
    """``[2B, 2B]`` bool, True where column ``j`` is a negative of row ``i`` (``j ∉ {i, p(i)}``);
    ``2B − 2`` per row. Cached; read-only."""
    with torch.inference_mode(False):
        rows = torch.arange(2 * batch_size, device=device)
        mask = ~self_pair_mask(batch_size, device)
        return mask.index_put((rows, partner_index(batch_size, device)), torch.tensor(False, device=device))


def two_view_scores(x: Tensor, y: Tensor, tau: float | Tensor = 1.0,
                    similarity: Similarity = "dot") -> Tensor:
    """``S = u uᵀ / t`` for ``u = [x; y]`` (rows L2-normalised first when ``similarity="cos"``).

    Args:
        x, y: ``[B, d]`` row-aligned views (row ``b`` of ``x`` and of ``y`` is one example).
        tau: temperature ``t > 0`` (float or scalar tensor).
        similarity: ``"dot"`` or ``"cos"``.

    Returns:
        ``[2B, 2B]`` scores; rows ``0..B-1`` are ``x``, rows ``B..2B-1`` are ``y``.
    """
    check_tau(tau)
    if similarity not in _SIMILARITIES:
        raise ValueError(f"similarity must be one of {_SIMILARITIES}, got {similarity!r}")
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both be [B, d], got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.size(0) < 1:
        raise ValueError("x and y must hold at least one row")
    u = torch.cat([x, y], dim=0)
    if similarity == "cos":
        u = F.normalize(u, dim=1)
    return (u @ u.T) / tau


def _check_scores(scores: Tensor) -> int:
    if scores.dim() != 2 or scores.size(0) != scores.size(1) or scores.size(0) % 2:
        raise ValueError(f"scores must be a [2B, 2B] matrix, got {tuple(scores.shape)}")
    return scores.size(0) // 2


def positive_scores(scores: Tensor) -> Tensor:
    """``[2B]`` ``S_{i,p(i)}`` of a ``[2B, 2B]`` two-view score matrix."""
    b = _check_scores(scores)
    return scores.gather(1, partner_index(b, scores.device).unsqueeze(1)).squeeze(1)


def nt_xent_from_scores(scores: Tensor) -> Tensor:
    """NT-Xent (module docstring) of a ``[2B, 2B]`` score matrix from :func:`two_view_scores`.

    ``(1/2B) Σ_i [logsumexp_{j ≠ i} S_ij − S_{i,p(i)}]``: the diagonal is removed with the
    cached self-pair mask; no negative matrix is materialised.
    """
    b = _check_scores(scores)
    lse = torch.logsumexp(scores.masked_fill(self_pair_mask(b, scores.device), float("-inf")), dim=1)
    return (lse - positive_scores(scores)).mean()


def nt_xent(x: Tensor, y: Tensor, tau: float | Tensor = 1.0, *, similarity: Similarity = "dot") -> Tensor:
    """NT-Xent of two row-aligned views over ``2B`` anchors (module docstring).

    Args:
        x, y: ``[B, d]`` views; row ``b`` of each is the same example.
        tau: temperature ``t`` (MCLRec / CL4SRec: 1).
        similarity: ``"dot"`` (MCLRec) or ``"cos"``.

    Returns:
        Scalar: the mean over the ``2B`` anchors of the cross-entropy against the partner.
    """
    return nt_xent_from_scores(two_view_scores(x, y, tau, similarity))


class NTXent(nn.Module):
    """:func:`nt_xent` as a module.

    Args:
        tau: temperature.
        similarity: ``"dot"`` or ``"cos"``.

    ``forward(x [B, d], y [B, d]) -> scalar``.
    """

    def __init__(self, tau: float = 1.0, similarity: Similarity = "dot"):
        super().__init__()
        check_tau(tau)
        if similarity not in _SIMILARITIES:
            raise ValueError(f"similarity must be one of {_SIMILARITIES}, got {similarity!r}")
        self.tau, self.similarity = tau, similarity

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return nt_xent(x, y, self.tau, similarity=self.similarity)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, similarity={self.similarity!r}"


__all__ = ["NTXent", "Similarity", "negative_mask", "nt_xent", "nt_xent_from_scores", "partner_index",
           "positive_scores", "self_pair_mask", "two_view_scores"]
