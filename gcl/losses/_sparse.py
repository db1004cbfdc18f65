"""Sparse positive operators for neighbourhood contrastive losses (PamC, SCGC*)."""
from __future__ import annotations

from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gcl.losses._chunk import checkpointed_rows

#: A weighted sparse N x N operator: a torch sparse COO/CSR tensor or ``(edge_index [2, E], weight [E])``.
SparseOperator = Union[Tensor, Tuple[Tensor, Tensor]]


def edge_list(adj: SparseOperator, n: int, name: str = "adj") -> tuple[Tensor, Tensor, Tensor]:
    """``(row, col, value)`` of the non-zeros of an N x N operator (no densification).

    Args:
        adj: sparse COO or CSR tensor [n, n], or ``(edge_index [2, E] long, edge_weight [E])``.
        n: number of nodes.
        name: argument name used in error messages.
    """
    if isinstance(adj, tuple):
        if len(adj) != 2:
            raise ValueError(f"{name} as a tuple must be (edge_index, edge_weight), got {len(adj)} items")
        index, value = adj
        if index.dim() != 2 or index.size(0) != 2:
            raise ValueError(f"{name} edge_index must be [2, E], got {tuple(index.shape)}")
        if value.shape != (index.size(1),):
            raise ValueError(f"{name} edge_weight must be [{index.size(1)}], got {tuple(value.shape)}")
        row, col = index[0], index[1]
    elif isinstance(adj, Tensor) and adj.layout == torch.sparse_coo:
        if adj.shape != (n, n):
            raise ValueError(f"{name} must be [{n}, {n}], got {tuple(adj.shape)}")
        adj = adj.coalesce()
        (row, col), value = adj.indices(), adj.values()
    elif isinstance(adj, Tensor) and adj.layout == torch.sparse_csr:
        if adj.shape != (n, n):
            raise ValueError(f"{name} must be [{n}, {n}], got {tuple(adj.shape)}")
        crow = adj.crow_indices()
        row = torch.repeat_interleave(torch.arange(n, device=crow.device), crow.diff())
        col, value = adj.col_indices(), adj.values()
    else:
        raise ValueError(f"{name} must be a sparse COO/CSR tensor or (edge_index, edge_weight); "
                         f"dense matrices are not accepted")
    if row.numel() and (int(row.min()) < 0 or int(row.max()) >= n or int(col.min()) < 0
                        or int(col.max()) >= n):
        raise ValueError(f"{name} has node ids outside [0, {n})")
    return row, col, value


def neighbourhood_exp_sum(zn: Tensor, row: Tensor, col: Tensor, value: Tensor, tau: float | Tensor,
                          edge_chunk_size: int | None = None) -> Tensor:
    """``pos_i = sum_{j: A_ij != 0} A_ij exp(tau * s_ij)`` with ``s_ij = zn_i . zn_j`` and
    ``s_ii := 0`` (the self pair contributes ``A_ii``).

    Args:
        zn: [N, d] row-normalised embeddings.
        row, col, value: the non-zeros of A (E each).
        tau: multiplies the cosine (an inverse temperature).
        edge_chunk_size: edges per checkpointed block (memory O(chunk x d)); ``None``: all at once.

    Returns:
        [N].
    """
    def block(start: int, stop: int) -> Tensor:
        r, c = row[start:stop], col[start:stop]
        s = (zn[r] * zn[c]).sum(dim=1)
        s = torch.where(r == c, torch.zeros_like(s), s)
        return value[start:stop].to(zn.dtype) * torch.exp(tau * s)

    terms = checkpointed_rows(block, row.numel(), edge_chunk_size) if row.numel() else zn.new_zeros(0)
    return zn.new_zeros(zn.size(0)).index_add(0, row, terms)


def normalized_positive_sums(z: Tensor, adj: SparseOperator, tau: float | Tensor, eps: float = 1e-8,
                             edge_chunk_size: int | None = None) -> tuple[Tensor, Tensor]:
    """The shared first step of the PamC and SCGC* losses: ``zn = z / ‖z‖`` and the positive
    sums ``pos_i`` of :func:`neighbourhood_exp_sum` over the non-zeros of ``adj``.

    Args:
        z: [N, d] embeddings.
        adj: positive operator A, sparse [N, N] (COO/CSR) or ``(edge_index, edge_weight)``.
        tau: multiplies the cosines.
        eps: lower bound of the norms in the cosines.
        edge_chunk_size: edges per checkpointed block of the positive term.

    Returns:
        ``(zn [N, d], pos [N])``.
    """
    if z.dim() != 2:
        raise ValueError(f"z must be [N, d], got {tuple(z.shape)}")
    row, col, value = edge_list(adj, z.size(0))
    zn = F.normalize(z, dim=1, eps=eps)
    return zn, neighbourhood_exp_sum(zn, row, col, value, tau, edge_chunk_size)
