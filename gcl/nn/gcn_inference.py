"""Full-graph GCN embeddings computed layer by layer in row blocks (inference on large graphs).

A sampled mini-batch gives approximate embeddings; for exact ones on a graph too large for
an autograd pass, every layer of :class:`gcl.nn.gcn.GCNEncoder` is applied to all nodes before
the next, without gradients, as ``H' = act(Â H W + b)`` with the cheaper association:

- ``d < d'`` (a widening layer, dense H): ``Â H`` [N, d] first, then ``(Â H) W``, bias and
  activation block by block into the [N, d'] output;
- otherwise: ``H W`` [N, d'] block by block, then ``Â (H W)``, and bias and activation in place.

``Â`` (:func:`gcl.nn.gcn.gcn_adjacency`, sparse CSR, E + N entries) is applied block of rows by
block of rows (a CSR row slice times a dense buffer), and the previous layer's output is freed as
soon as it has been read. Peak memory is the graph operator, the input and at most three
[N, max(d, d')] buffers plus one block (``block_size`` rows) of temporaries:
O(E + N (F + d')), never N x N and no autograd graph.
The result equals ``encoder(x, edge_index)`` in eval mode (dropout off) up to float rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gcl.nn.gcn import GCNEncoder, gcn_adjacency


def _row_block(adj: Tensor, start: int, stop: int) -> Tensor:
    """Rows ``start .. stop - 1`` of a sparse CSR matrix, as a CSR matrix (views, no copy)."""
    crow = adj.crow_indices()
    lo, hi = int(crow[start]), int(crow[stop])
    return torch.sparse_csr_tensor(crow[start:stop + 1] - lo, adj.col_indices()[lo:hi],
                                   adj.values()[lo:hi], (stop - start, adj.size(1)),
                                   check_invariants=False)


def _times_weight(h: Tensor, weight: Tensor, block_size: int) -> Tensor:
    """``H W`` [N, d'] for dense or sparse COO ``H``, block of rows by block of rows."""
    n = h.size(0)
    out = torch.empty(n, weight.size(1), dtype=weight.dtype, device=weight.device)
    for start in range(0, n, block_size):  # a loop over blocks of rows
        stop = min(start + block_size, n)
        if h.is_sparse:
            out[start:stop] = torch.sparse.mm(h.narrow_copy(0, start, stop - start), weight)
        else:
            out[start:stop] = h[start:stop] @ weight
    return out


@torch.no_grad()
def gcn_layerwise(encoder: GCNEncoder, x: Tensor, edge_index: Tensor, *, block_size: int = 65536,
                  adj: Tensor | None = None) -> Tensor:
    """Embeddings ``encoder(x, edge_index)`` of every node, layer by layer (see the module docstring).

    Args:
        encoder: the GCN encoder (its dropout is not applied, as in eval mode).
        x: [N, F] node features (dense or sparse COO).
        edge_index: [2, E] long.
        block_size: rows per block.
        adj: a precomputed :func:`gcl.nn.gcn.gcn_adjacency` of the graph (built here when ``None``).

    Returns:
        [N, d] embeddings.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    n = x.size(0)
    if adj is None:
        adj = gcn_adjacency(edge_index, n)

    def propagate(dense: Tensor) -> Tensor:  # Â @ dense, block of rows by block of rows
        out = torch.empty_like(dense)
        for start in range(0, n, block_size):  # a loop over blocks of rows
            stop = min(start + block_size, n)
            out[start:stop] = _row_block(adj, start, stop) @ dense
        return out

    h = x
    for layer in encoder.layers:  # a loop over the few layers
        d_in, d_out = layer.weight.shape
        if d_in < d_out and not h.is_sparse:  # (Â H) W: the [N, d_in] buffer is the smaller one
            ah, weighted = propagate(h), False
            h = None  # the previous layer's output is no longer needed (the caller keeps x)
        else:  # Â (H W)
            hw = _times_weight(h, layer.weight, block_size)
            h = None
            ah, weighted = propagate(hw), True
            del hw
        out = ah if weighted else torch.empty(n, d_out, dtype=ah.dtype, device=ah.device)
        for start in range(0, n, block_size):
            stop = min(start + block_size, n)
            block = ah[start:stop] if weighted else ah[start:stop] @ layer.weight
            if layer.bias is not None:
                block = block + layer.bias
            out[start:stop] = encoder.activation(block)
        del ah
        h, out = out, None  # one name for this layer's output, so the next layer can free it
    return h
