"""MCLRec's contrastive regulariser ``R(x, y)`` (Qin et al., SIGIR 2023), in the official code's form.

On the two-view score matrix ``S = u uᵀ / t`` of ``u = [x; y]`` (:func:`gcl.losses.nt_xent.two_view_scores`,
``2B`` rows), anchor ``i`` has the positive score ``P_i = S_{i,p(i)}`` and ``2B − 2`` negative
scores ``N_ij`` (``j ∉ {i, p(i)}``). With ``m_i = max_j N_ij``,

    o⁻_i = min(P_i, m_i),     o⁺_i = max(P_i, m_i)

    R(x, y) = mean_i [P_i − o⁻_i]₊  +  mean_{i, j} [o⁺_i − N_ij]₊

(means over the ``2B`` anchors and over the ``2B (2B − 2)`` anchor-negative pairs; ``[·]₊ =
max(·, 0)``; nothing detached). The paper's Eq. 11–13 take the min / max over the whole set
and apply R to ``(z̃1, z̃2)`` only; the code, followed here, works per anchor and MCLRec sums
R over three pairs (see :class:`gcl.methods.MCLRec`). ``R`` is positively homogeneous in ``S``,
so ``R`` at temperature ``t`` is ``R`` at ``t = 1`` divided by ``t``.

Ties (``P_i = m_i`` exactly) split the sub-gradient evenly (``torch.minimum`` / ``amax``)
where the official code routes it to one side; they have probability zero for real inputs.

Needs ``B >= 2`` (an anchor of a single pair has no negative, so ``m_i`` is undefined).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gcl.losses.nt_xent import (
    Similarity,
    negative_mask,
    positive_scores,
    two_view_scores,
)


def regularizer_from_scores(scores: Tensor) -> Tensor:
    """``R`` (module docstring) of a ``[2B, 2B]`` two-view score matrix.

    Computed without any ``[2B, 2B − 2]`` negative matrix: ``m_i`` is a masked row max (the
    cached negative mask), and because ``o⁺_i >= m_i >= N_ij`` every ``[o⁺_i − N_ij]₊`` equals
    ``o⁺_i − N_ij``, so the second mean is ``mean_i o⁺_i − mean_{i,j} N_ij`` with the negatives'
    sum read off the row sums (``Σ_j S_ij − S_ii − P_i``). Likewise ``[P_i − o⁻_i]₊ = [P_i − m_i]₊``.
    Same values and gradients as the per-entry form (``tests/losses/test_loss_mclrec.py``
    checks both against it), at a few passes over ``S``.
    """
    n = scores.size(0)
    if scores.dim() != 2 or scores.size(1) != n or n % 2:
        raise ValueError(f"scores must be a [2B, 2B] matrix, got {tuple(scores.shape)}")
    if n < 4:
        raise ValueError("the regulariser needs at least 2 pairs (B >= 2): with B = 1 no anchor has a negative")
    neg = negative_mask(n // 2, scores.device)
    pos = positive_scores(scores)                                            # P_i   [2B]
    hardest = scores.masked_fill(~neg, float("-inf")).amax(dim=1)            # m_i   [2B]
    low, high = torch.minimum(pos, hardest), torch.maximum(pos, hardest)     # o⁻_i, o⁺_i
    pos_term = (pos - low).clamp(min=0).mean()
    neg_sum = scores.sum() - scores.diagonal().sum() - pos.sum()             # Σ_{i,j} N_ij
    return pos_term + high.mean() - neg_sum / (n * (n - 2))


def contrastive_regularizer(x: Tensor, y: Tensor, tau: float | Tensor = 1.0, *,
                            similarity: Similarity = "dot") -> Tensor:
    """MCLRec's regulariser ``R(x, y)`` (module docstring).

    Args:
        x, y: ``[B, d]`` row-aligned views, ``B >= 2``.
        tau: temperature of the scores (MCLRec: its ``tau``, 1).
        similarity: ``"dot"`` (MCLRec) or ``"cos"``.

    Returns:
        Scalar ``R``.
    """
    return regularizer_from_scores(two_view_scores(x, y, tau, similarity))


class ContrastiveRegularizer(nn.Module):
    """:func:`contrastive_regularizer` as a module. ``forward(x [B, d], y [B, d]) -> scalar``."""

    def __init__(self, tau: float = 1.0, similarity: Similarity = "dot"):
        super().__init__()
        two_view_scores(torch.zeros(1, 1), torch.zeros(1, 1), tau, similarity)  # checks arguments
        self.tau, self.similarity = tau, similarity

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return contrastive_regularizer(x, y, self.tau, similarity=self.similarity)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, similarity={self.similarity!r}"


__all__ = ["ContrastiveRegularizer", "contrastive_regularizer", "regularizer_from_scores"]
