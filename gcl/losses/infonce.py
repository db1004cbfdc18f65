"""InfoNCE / NT-Xent with row-chunked log-sum-exp (memory O(chunk_size x N), never N x N).

For anchors ``a_i`` (rows of ``z1``) and candidates ``c_j`` (rows of ``z2``), with
``s(u, v) = u . v / tau`` (cosine when ``normalize``) and positive ``c_{p(i)}``:

    l_i = -s(a_i, c_{p(i)}) + log( sum_j exp s(a_i, c_j) + [intra] sum_{j != i} exp s(a_i, a_j) )

``p(i) = i`` (row alignment) unless ``pos_index`` is given. With ``symmetric=True`` the loss is
the mean of the two directions (GRACE): ``(mean_i l_i(z1, z2) + mean_i l_i(z2, z1)) / 2``.

Each block of ``chunk_size`` anchors is computed under activation checkpointing, so neither
the forward nor the backward pass holds more than one ``chunk_size x N`` block of scores.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


def _block_loss(anchor_blk: Tensor, start: Tensor, cand: Tensor, anchors: Tensor, pos: Tensor,
                tau: float, intra: bool) -> Tensor:
    """Sum of l_i over one block of anchors (rows ``start .. start + B``)."""
    b = anchor_blk.size(0)
    rows = torch.arange(b, device=anchor_blk.device)
    inter = anchor_blk @ cand.T / tau                                    # [B, N]
    pos_logit = inter[rows, pos]
    if intra:
        intra_s = anchor_blk @ anchors.T / tau                           # [B, N]
        intra_s = intra_s.index_put((rows, rows + start), intra_s.new_tensor(float("-inf")))
        lse = torch.logaddexp(torch.logsumexp(inter, dim=1), torch.logsumexp(intra_s, dim=1))
    else:
        lse = torch.logsumexp(inter, dim=1)
    return (lse - pos_logit).sum()


def info_nce(
    z1: Tensor,
    z2: Tensor,
    tau: float = 0.5,
    *,
    pos_index: Tensor | None = None,
    intra_view: bool = True,
    normalize: bool = True,
    chunk_size: int | None = None,
) -> Tensor:
    """One-directional InfoNCE, mean over anchors (see the module docstring).

    Args:
        z1: [N, d] anchors.
        z2: [M, d] candidates (M = N unless ``pos_index`` is given).
        tau: temperature > 0.
        pos_index: [N] long, the candidate row that is each anchor's positive.
        intra_view: also use the other anchors (z1 rows, self excluded) as negatives.
        normalize: L2-normalise rows first (cosine similarity).
        chunk_size: anchors per block; ``None`` processes all rows in one block.

    Returns:
        scalar loss.
    """
    if tau <= 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    if z1.dim() != 2 or z2.dim() != 2 or z1.size(1) != z2.size(1):
        raise ValueError(f"z1 and z2 must be [N, d] and [M, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.size(0)
    if pos_index is None:
        if z2.size(0) != n:
            raise ValueError(f"row-aligned positives need z1 and z2 of equal length, got {n} and {z2.size(0)}")
        pos_index = torch.arange(n, device=z1.device)
    elif pos_index.shape != (n,):
        raise ValueError(f"pos_index must have shape [{n}], got {tuple(pos_index.shape)}")
    if normalize:
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    step = n if chunk_size is None else max(1, int(chunk_size))
    total = z1.new_zeros(())
    for start in range(0, n, step):  # loop over row blocks, not over nodes
        stop = min(start + step, n)
        args = (z1[start:stop], torch.tensor(start, device=z1.device), z2, z1, pos_index[start:stop], tau, intra_view)
        if step < n and torch.is_grad_enabled():
            total = total + checkpoint(_block_loss, *args, use_reentrant=False)
        else:
            total = total + _block_loss(*args)
    return total / n


def _lse_without_diagonal(s: Tensor) -> Tensor:
    """Row-wise log-sum-exp of a square matrix with its diagonal excluded."""
    return torch.logsumexp(s.diagonal_scatter(s.new_full((s.size(0),), float("-inf"))), dim=1)


def symmetric_info_nce(z1: Tensor, z2: Tensor, tau: float = 0.5, *, intra_view: bool = True,
                       normalize: bool = True) -> Tensor:
    """``(info_nce(z1, z2) + info_nce(z2, z1)) / 2`` for row-aligned positives, unchunked.

    Both directions share the cross-view scores ``S12 = z1 z2^T / tau`` (direction 2 reads its
    columns), so three N x N products are computed instead of four. Memory is O(N^2): use
    :func:`info_nce` with ``chunk_size`` for large N.

    Args:
        z1, z2: [N, d] row-aligned views.
    """
    if tau <= 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be [N, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if normalize:
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    s12 = z1 @ z2.T / tau
    pos = s12.diagonal()
    lse1, lse2 = torch.logsumexp(s12, dim=1), torch.logsumexp(s12, dim=0)
    if intra_view:
        lse1 = torch.logaddexp(lse1, _lse_without_diagonal(z1 @ z1.T / tau))
        lse2 = torch.logaddexp(lse2, _lse_without_diagonal(z2 @ z2.T / tau))
    return 0.5 * ((lse1 - pos).mean() + (lse2 - pos).mean())


class InfoNCE(nn.Module):
    """InfoNCE / NT-Xent as a module (see :func:`info_nce`).

    Args:
        tau: temperature.
        symmetric: average both directions (z1 -> z2 and z2 -> z1).
        intra_view: use same-view negatives too (GRACE, NT-Xent).
        normalize: cosine similarity.
        chunk_size: anchors per block; bounds memory by ``chunk_size x N``.
    """

    def __init__(self, tau: float = 0.5, *, symmetric: bool = True, intra_view: bool = True,
                 normalize: bool = True, chunk_size: int | None = None):
        super().__init__()
        self.tau, self.symmetric, self.intra_view = tau, symmetric, intra_view
        self.normalize, self.chunk_size = normalize, chunk_size

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        if self.symmetric and self.chunk_size is None:
            return symmetric_info_nce(z1, z2, self.tau, intra_view=self.intra_view, normalize=self.normalize)
        kw = dict(intra_view=self.intra_view, normalize=self.normalize, chunk_size=self.chunk_size)
        loss = info_nce(z1, z2, self.tau, **kw)
        if self.symmetric:
            loss = 0.5 * (loss + info_nce(z2, z1, self.tau, **kw))
        return loss

    def extra_repr(self) -> str:
        return (f"tau={self.tau}, symmetric={self.symmetric}, intra_view={self.intra_view}, "
                f"chunk_size={self.chunk_size}")
