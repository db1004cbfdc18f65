"""SCGC*: the node-level neighbourhood contrastive loss (Graph-MLP's, as used by SCGC*).

With ``s_ij = cos(z_i, z_j)`` for ``i != j`` and ``s_ii := 0`` (the full N x N cosine matrix with a
zero diagonal) and a positive operator ``A`` (cumulative influence sum):

    L = -(1/N) sum_i log( sum_j A_ij exp(tau s_ij) / sum_{j=1..N} exp(tau s_ij) + 1e-8 )

``tau`` multiplies the cosine. The denominator is the O(N^2) part that PamC
(:mod:`gcl.losses.pamc`) replaces by a meta-node partition.

Two forms, equal in value and gradient:

- :func:`scgc_star_loss` / :class:`SCGCStarLoss`: exact and row-chunked; the positive term is
  gathered over the non-zeros of A and the denominators come from ``chunk x N`` blocks under
  checkpointing: O(N^2 d) time, O(chunk_size x N + nnz(A)) memory.
- :func:`scgc_star_loss_dense` / :class:`DenseSCGCStarLoss`: the naive reference, which
  materialises A and the cosine matrix densely: **O(N^2) memory**, small N only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.losses._chunk import check_chunk_size, checkpointed_rows
from gcl.losses._sparse import SparseOperator, edge_list, normalized_positive_sums
from gcl.losses.temperature import check_tau


def scgc_star_loss(z: Tensor, adj: SparseOperator, tau: float | Tensor = 1.0, *,
                   chunk_size: int | None = None, eps: float = 1e-8,
                   edge_chunk_size: int | None = None) -> Tensor:
    """Exact SCGC* loss with row-chunked denominators (see the module docstring).

    Args:
        z: [N, d] embeddings.
        adj: positive operator A, sparse [N, N] (COO/CSR) or ``(edge_index, edge_weight)``.
        tau: multiplies the cosines.
        chunk_size: rows per denominator block (memory chunk x N); ``None``: one N x N block.
        eps: lower bound of the norms in the cosines.
        edge_chunk_size: edges per checkpointed block of the positive term.
    """
    check_tau(tau)
    check_chunk_size(chunk_size)
    zn, pos = normalized_positive_sums(z, adj, tau, eps, edge_chunk_size)

    def block(start: int, stop: int) -> Tensor:
        rows = torch.arange(stop - start, device=z.device)
        s = zn[start:stop] @ zn.T                                            # [B, N]
        s = s.index_put((rows, rows + start), s.new_zeros(()))
        log_den = torch.logsumexp(tau * s, dim=1)
        return -torch.log(pos[start:stop] * torch.exp(-log_den) + 1e-8)

    return checkpointed_rows(block, zn.size(0), chunk_size).mean()


def scgc_star_loss_dense(z: Tensor, adj: SparseOperator, tau: float | Tensor = 1.0, *,
                         eps: float = 1e-8) -> Tensor:
    """Naive SCGC* reference: dense A and dense N x N cosines, **O(N^2) memory** (small N only).

    Args:
        z: [N, d] embeddings.
        adj: positive operator A (sparse or ``(edge_index, edge_weight)``; densified here).
        tau: multiplies the cosines.
        eps: lower bound of the norms in the cosines.
    """
    check_tau(tau)
    if z.dim() != 2:
        raise ValueError(f"z must be [N, d], got {tuple(z.shape)}")
    n = z.size(0)
    row, col, value = edge_list(adj, n)
    dense_a = z.new_zeros(n, n).index_put((row, col), value.to(z.dtype), accumulate=True)
    zn = F.normalize(z, dim=1, eps=eps)
    s = (zn @ zn.T) * (1 - torch.eye(n, dtype=z.dtype, device=z.device))
    e = torch.exp(tau * s)
    return -torch.log((e * dense_a).sum(dim=1) / e.sum(dim=1) + 1e-8).mean()


class SCGCStarLoss(nn.Module):
    """Exact row-chunked SCGC* loss (see :func:`scgc_star_loss`); ``forward(z, adj)``.

    Args:
        tau: multiplies the cosines.
        chunk_size: rows per denominator block (memory chunk x N).
        eps: lower bound of the norms.
        edge_chunk_size: edges per checkpointed block of the positive term.
    """

    def __init__(self, tau: float = 1.0, *, chunk_size: int | None = 1024, eps: float = 1e-8,
                 edge_chunk_size: int | None = None):
        super().__init__()
        check_tau(tau)
        check_chunk_size(chunk_size)
        self.tau, self.chunk_size, self.eps, self.edge_chunk_size = tau, chunk_size, eps, edge_chunk_size

    def forward(self, z: Tensor, adj: SparseOperator) -> Tensor:
        return scgc_star_loss(z, adj, self.tau, chunk_size=self.chunk_size, eps=self.eps,
                              edge_chunk_size=self.edge_chunk_size)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, chunk_size={self.chunk_size}"


class DenseSCGCStarLoss(nn.Module):
    """Naive dense SCGC* loss, **O(N^2) memory**: a reference for small N
    (see :func:`scgc_star_loss_dense`); ``forward(z, adj)``."""

    def __init__(self, tau: float = 1.0, *, eps: float = 1e-8):
        super().__init__()
        check_tau(tau)
        self.tau, self.eps = tau, eps

    def forward(self, z: Tensor, adj: SparseOperator) -> Tensor:
        return scgc_star_loss_dense(z, adj, self.tau, eps=self.eps)

    def extra_repr(self) -> str:
        return f"tau={self.tau}"
