"""Multi-layer perceptrons and projection heads."""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn


class MLP(nn.Sequential):
    """Linear layers with an activation between them (none after the last).

    Args:
        sizes: ``[in, hidden..., out]``, at least two entries.
        activation: module class used between layers.
        dropout: dropout before every hidden activation's successor layer.

    Shapes:
        [*, sizes[0]] -> [*, sizes[-1]]
    """

    def __init__(self, sizes: Sequence[int], activation: type[nn.Module] = nn.ELU, dropout: float = 0.0):
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {list(sizes)}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i > 0:
                layers.append(activation())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
            layers.append(nn.Linear(a, b))
        super().__init__(*layers)


class ProjectionHead(MLP):
    """The two-layer projection ``g(h) = W2 act(W1 h + b1) + b2`` used by SimCLR/GRACE."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 activation: type[nn.Module] = nn.ELU):
        super().__init__([in_channels, hidden_channels, out_channels], activation)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102 (same as Sequential)
        return super().forward(x)
