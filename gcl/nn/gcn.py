"""Graph convolutional encoder (Kipf & Welling, 2017) producing node embeddings."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv


class GCNEncoder(nn.Module):
    """A stack of ``GCNConv`` layers, each followed by an activation.

    Layer l computes ``H^{l+1} = act(D^{-1/2} (A + I) D^{-1/2} H^l W^l)``. Hidden layers have
    width ``hidden_channels`` (GRACE uses ``2 * out_channels``); the last has ``out_channels``.

    Args:
        in_channels: input feature size F.
        out_channels: embedding size d.
        num_layers: number of GCN layers (>= 1).
        hidden_channels: width of the hidden layers (default ``2 * out_channels``).
        activation: applied after every layer, the last included (as in GRACE/DGI).
        dropout: dropout on the input of every layer.
        cached: cache the normalised adjacency (only valid when the graph never changes, so
            leave it ``False`` when views drop edges).

    Shapes:
        x: [N, F], edge_index: [2, E] -> [N, d]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_layers: int = 2,
        hidden_channels: int | None = None,
        activation: Callable[[Tensor], Tensor] | nn.Module = nn.ReLU(),
        dropout: float = 0.0,
        cached: bool = False,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        hidden = hidden_channels if hidden_channels is not None else 2 * out_channels
        sizes = [in_channels] + [hidden] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(GCNConv(a, b, cached=cached) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        for conv in self.convs:
            x = nn.functional.dropout(x, self.dropout, self.training)
            x = self.activation(conv(x, edge_index, edge_weight))
        return x
