"""Graph convolutional encoder (Kipf & Welling, 2017) on a sparse normalised adjacency.

One layer computes ``H' = act( Â (H W) + b )`` with ``Â = D^{-1/2} (A + I) D^{-1/2}``, where
``D`` holds the in-degrees of ``A + I``. ``Â`` is a sparse CSR tensor built once per graph
(:func:`gcn_adjacency`), and the product with ``H W`` is a sparse-dense matmul, so the layer
costs O(E d + N F d) and runs unchanged on CPU and CUDA. Sparse input features (bag-of-words
graphs such as Cora) are multiplied as sparse matrices.

A feature-column mask ``m`` on the input, ``(X ⊙ m) W``, is applied as ``X (diag(m) W)``, which
is the same product without densifying or copying ``X``.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import torch
from torch import Tensor, nn


def _to_csr(t: Tensor) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return t.to_sparse_csr()


def gcn_adjacency(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None,
                  add_self_loops: bool = True) -> Tensor:
    """The GCN operator ``Â = D^{-1/2} (A + I) D^{-1/2}`` as a sparse CSR tensor.

    Entry ``Â[i, j]`` weights the message from source ``j`` to target ``i`` for an edge
    ``(j, i)`` in ``edge_index`` (PyG's ``source_to_target`` flow); degrees are in-degrees.
    Duplicate edges are summed. Existing self-loops keep their weight and every other node
    gets a self-loop of weight 1 (the same operator as PyG's ``GCNConv``).

    Args:
        edge_index: [2, E] long.
        num_nodes: N.
        edge_weight: optional [E] weights (default 1).
        add_self_loops: add ``I`` (with weight 1) before normalising.

    Returns:
        [N, N] sparse CSR tensor on the device of ``edge_index``.
    """
    src, dst = edge_index[0], edge_index[1]
    w = torch.ones(src.numel(), device=src.device) if edge_weight is None else edge_weight.float()
    if add_self_loops:
        # A node that already has a self-loop keeps its weight; the others get weight 1.
        is_loop = src == dst
        loop_w = torch.ones(num_nodes, device=w.device).index_put_((src[is_loop],), w[is_loop])
        keep = ~is_loop
        loop = torch.arange(num_nodes, device=src.device)
        src, dst = torch.cat([src[keep], loop]), torch.cat([dst[keep], loop])
        w = torch.cat([w[keep], loop_w])
    deg = torch.zeros(num_nodes, device=w.device).index_add_(0, dst, w)
    dinv = deg.pow(-0.5).masked_fill_(deg == 0, 0.0)
    coo = torch.sparse_coo_tensor(torch.stack([dst, src]), dinv[dst] * w * dinv[src],
                                  (num_nodes, num_nodes), check_invariants=False).coalesce()
    return _to_csr(coo)


class GCNLayer(nn.Module):
    """``H' = Â (H W) + b`` (no activation; see :class:`GCNEncoder`).

    Args:
        in_channels, out_channels: F and d.
        bias: learn an additive bias ``b``.

    Shapes:
        x: [N, F] dense or sparse, adj: [N, N] sparse, input_mask: [F] or None -> [N, d]
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = math.sqrt(6.0 / (self.weight.size(0) + self.weight.size(1)))  # Glorot uniform
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, adj: Tensor, input_mask: Tensor | None = None) -> Tensor:
        w = self.weight if input_mask is None else self.weight * input_mask.unsqueeze(1)
        h = torch.sparse.mm(x, w) if x.is_sparse or x.layout == torch.sparse_csr else x @ w
        out = adj @ h
        return out + self.bias if self.bias is not None else out


class GCNEncoder(nn.Module):
    """A stack of GCN layers, each followed by an activation.

    Hidden layers have width ``hidden_channels`` (GRACE uses ``2 * out_channels``); the last
    has ``out_channels``.

    Args:
        in_channels: input feature size F.
        out_channels: embedding size d.
        num_layers: number of layers (>= 1).
        hidden_channels: width of the hidden layers (default ``2 * out_channels``).
        activation: applied after every layer, the last included (as in GRACE/DGI).
        dropout: dropout on the input of every layer but the first (sparse inputs stay sparse).

    Shapes:
        ``forward(x [N, F], edge_index [2, E]) -> [N, d]``; pass ``adj=`` (from
        :func:`gcn_adjacency`) instead of ``edge_index`` to reuse a precomputed operator, and
        ``input_mask [F]`` to mask input feature columns.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_layers: int = 2,
        hidden_channels: int | None = None,
        activation: Callable[[Tensor], Tensor] | nn.Module = nn.ReLU(),
        dropout: float = 0.0,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        hidden = hidden_channels if hidden_channels is not None else 2 * out_channels
        sizes = [in_channels] + [hidden] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(GCNLayer(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor | None = None, *, adj: Tensor | None = None,
                edge_weight: Tensor | None = None, input_mask: Tensor | None = None) -> Tensor:
        if adj is None:
            if edge_index is None:
                raise ValueError("GCNEncoder needs edge_index or adj")
            adj = gcn_adjacency(edge_index, x.size(0), edge_weight)
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = nn.functional.dropout(x, self.dropout, self.training)
            x = self.activation(layer(x, adj, input_mask if i == 0 else None))
        return x
