"""The compressed-sparse-column (CSC) layout a neighbour sampler reads, built once per graph.

For edges ``(src, dst)`` in PyG's ``source_to_target`` flow, node ``i``'s *neighbours* are the
sources of the edges that point at it, ``{src_e : dst_e = i}`` (what a message-passing layer
aggregates into ``i``). Sorting the edges by ``dst`` (stable) gives

    colptr [N + 1]:  the in-edges of node i occupy positions colptr[i] .. colptr[i + 1] - 1
    row    [E]:      row[p] = src of the edge at position p
    perm   [E]:      perm[p] = the column of ``edge_index`` that edge came from (its edge id)

so ``deg_in(i) = colptr[i + 1] - colptr[i]``. One stable sort and one ``bincount``: O(E log E)
time, 2 E + N + 1 integers of memory.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class CSCGraph:
    """In-neighbour lists of a graph in CSC layout (see the module docstring).

    Attributes:
        colptr: [N + 1] long offsets.
        row: [E] long source node of every position.
        perm: [E] long edge id (column of the input ``edge_index``) of every position.
    """

    colptr: Tensor
    row: Tensor
    perm: Tensor

    @property
    def num_nodes(self) -> int:
        return self.colptr.numel() - 1

    @property
    def num_edges(self) -> int:
        return self.row.numel()

    def in_degree(self, nodes: Tensor | None = None) -> Tensor:
        """In-degrees of ``nodes`` (all nodes when ``None``), [len(nodes)] long."""
        if nodes is None:
            return self.colptr[1:] - self.colptr[:-1]
        return self.colptr[nodes + 1] - self.colptr[nodes]


def to_csc(edge_index: Tensor, num_nodes: int) -> CSCGraph:
    """Build the CSC layout of ``edge_index`` (see the module docstring).

    Args:
        edge_index: [2, E] long, ``(src, dst)`` columns; duplicates are kept as separate edges.
        num_nodes: N (nodes without edges are allowed).

    Returns:
        :class:`CSCGraph` on ``edge_index``'s device.

    Raises:
        ValueError: ``edge_index`` is not [2, E] long, or names a node outside ``[0, N)``.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must be [2, E], got {tuple(edge_index.shape)}")
    if edge_index.dtype != torch.long:
        raise ValueError(f"edge_index must be int64, got {edge_index.dtype}")
    if num_nodes < 0:
        raise ValueError(f"num_nodes must be >= 0, got {num_nodes}")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index names nodes outside [0, {num_nodes})")
    dst = edge_index[1]
    perm = torch.sort(dst, stable=True).indices
    counts = torch.bincount(dst, minlength=num_nodes)
    colptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=dst.device)
    torch.cumsum(counts, 0, out=colptr[1:])
    return CSCGraph(colptr=colptr, row=edge_index[0, perm], perm=perm)
