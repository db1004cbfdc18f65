"""Functional view generators on a single graph.

Each function returns new tensors and leaves its inputs untouched; all randomness comes
from the explicit ``generator`` (or torch's global generator when it is ``None``), so the
same generator state gives the same view.
"""
from __future__ import annotations

import torch
from torch import Tensor


def _uniform(n: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
    # Draw on the generator's device, then move: a CPU generator can drive CUDA data.
    dev = generator.device if generator is not None else like.device
    return torch.rand(n, generator=generator, device=dev).to(like.device)


def drop_edge(
    edge_index: Tensor,
    p: float,
    *,
    force_undirected: bool = False,
    edge_attr: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Remove each edge independently with probability ``p``.

    With ``force_undirected=True`` the input must be symmetric; one coin is drawn per
    undirected pair {u, v} and both directions share it, so the view stays symmetric.
    Self-loops count as their own pair.

    Args:
        edge_index: [2, E] long.
        p: drop probability in [0, 1).
        force_undirected: keep symmetric graphs symmetric.
        edge_attr: optional [E, *] attributes that follow their edges.
        generator: source of randomness.

    Returns:
        ``(edge_index [2, E'], edge_attr [E', *] or None)``.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop probability p must be in [0, 1), got {p}")
    num_edges = edge_index.size(1)
    if p == 0.0 or num_edges == 0:
        return edge_index.clone(), None if edge_attr is None else edge_attr.clone()
    if not force_undirected:
        keep = _uniform(num_edges, edge_index, generator) >= p
    else:
        lo = torch.minimum(edge_index[0], edge_index[1])
        hi = torch.maximum(edge_index[0], edge_index[1])
        n = int(edge_index.max()) + 1
        pair, inverse = torch.unique(lo * n + hi, return_inverse=True)
        keep = (_uniform(pair.numel(), edge_index, generator) >= p)[inverse]
    out_attr = edge_attr[keep] if edge_attr is not None else None
    return edge_index[:, keep], out_attr


def mask_feature(
    x: Tensor,
    p: float,
    *,
    mode: str = "column",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Zero features with probability ``p``.

    ``mode="column"`` zeroes whole feature dimensions, the same for every node (GRACE);
    ``mode="entry"`` zeroes individual entries of ``x``.

    Args:
        x: [N, F] node features.
        p: masking probability in [0, 1).

    Returns:
        [N, F] masked copy of ``x``.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"mask probability p must be in [0, 1), got {p}")
    if mode == "column":
        keep = _uniform(x.size(1), x, generator) >= p
        return x * keep.to(x.dtype).unsqueeze(0)
    if mode == "entry":
        keep = _uniform(x.numel(), x, generator).view_as(x) >= p
        return x * keep.to(x.dtype)
    raise ValueError(f"mode must be 'column' or 'entry', got {mode!r}")
