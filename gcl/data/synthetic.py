"""A synthetic undirected graph with a power-law degree distribution (Chung–Lu), at any size.

**Degrees.** Node ``i`` (``i = 0 .. N-1``, before a random relabelling) gets the weight

    w_i = (i + i_0) ^ (-1 / (gamma - 1))

so the weights, hence the expected degrees, follow a power law ``P(deg = k) ~ k^(-gamma)``
(``i_0 = 1`` by default; a larger ``i_0`` softens the largest hubs).

**Edges.** ``M = round(N * avg_degree / 2)`` endpoint pairs ``(u, v)`` are drawn with
``u, v ~ w / sum(w)`` independently (inverse-CDF sampling: one ``searchsorted`` per endpoint),
so node ``i`` is an endpoint ``2 M w_i / sum(w)`` times in expectation (the Chung–Lu model with
multi-edges). Self-loops are dropped, every pair is stored in both directions and duplicate
pairs are merged, so the mean degree ends slightly below ``avg_degree`` on graphs with heavy
hubs. Node ids are then permuted at random, so hubs are not the smallest ids.

**Attributes.** ``y`` [N]: uniform random classes in ``[0, num_classes)``; ``x`` [N, F] float32:
``signal * mu_y + eps`` with class centres ``mu ~ N(0, I)`` and noise ``eps ~ N(0, I)``.

Everything is vectorised (O(M log M) time for the duplicate merge, O(M + N F) memory) and
drawn from ``generator``, so a seed gives the same graph.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data


def power_law_weights(num_nodes: int, gamma: float = 2.5, offset: float = 1.0) -> Tensor:
    """Chung–Lu weights ``(i + offset) ^ (-1 / (gamma - 1))`` [N] float64 (unnormalised)."""
    if gamma <= 1.0:
        raise ValueError(f"gamma must be > 1, got {gamma}")
    if offset <= 0:
        raise ValueError(f"offset must be > 0, got {offset}")
    return (torch.arange(num_nodes, dtype=torch.float64) + offset).pow(-1.0 / (gamma - 1.0))


def undirected_unique(src: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    """Both directions of the pairs ``{src_e, dst_e}``, self-loops dropped, duplicates merged.

    Returns:
        [2, E] long, sorted by ``(src, dst)``.
    """
    keep = src != dst
    src, dst = src[keep], dst[keep]
    key = torch.unique(torch.cat([src * num_nodes + dst, dst * num_nodes + src]))
    return torch.stack([key // num_nodes, key % num_nodes])


def power_law_graph(num_nodes: int, avg_degree: float = 8.0, num_features: int = 64, *,
                    gamma: float = 2.5, offset: float = 1.0, num_classes: int = 10,
                    signal: float = 1.0, generator: torch.Generator | None = None) -> Data:
    """A Chung–Lu power-law graph with features and labels (see the module docstring).

    Args:
        num_nodes: N.
        avg_degree: target mean degree (twice the drawn pairs per node).
        num_features: F.
        gamma: power-law exponent of the degree distribution (> 1; 2 < gamma < 3 is typical).
        offset: ``i_0`` of the weights (> 0).
        num_classes: classes of ``y``.
        signal: scale of the class centres in ``x`` (0: pure noise).
        generator: source of randomness (CPU).

    Returns:
        ``Data(x [N, F] float32, edge_index [2, E] long, y [N] long)``, undirected (both
        directions stored), no self-loops, no duplicate edges.
    """
    if num_nodes < 2:
        raise ValueError(f"num_nodes must be >= 2, got {num_nodes}")
    if avg_degree <= 0:
        raise ValueError(f"avg_degree must be > 0, got {avg_degree}")
    if num_features < 1 or num_classes < 1:
        raise ValueError(f"num_features and num_classes must be >= 1, got {num_features}, {num_classes}")
    cdf = torch.cumsum(power_law_weights(num_nodes, gamma, offset), 0)
    cdf /= cdf[-1].clone()
    pairs = int(round(num_nodes * avg_degree / 2))

    def endpoints() -> Tensor:
        u = torch.rand(pairs, generator=generator, dtype=torch.float64)
        return torch.searchsorted(cdf, u).clamp_(max=num_nodes - 1)

    src, dst = endpoints(), endpoints()
    relabel = torch.randperm(num_nodes, generator=generator)
    edge_index = undirected_unique(relabel[src], relabel[dst], num_nodes)
    del src, dst
    y = torch.randint(0, num_classes, (num_nodes,), generator=generator)
    centres = torch.randn(num_classes, num_features, generator=generator) * signal
    x = torch.randn(num_nodes, num_features, generator=generator).add_(centres[y])
    return Data(x=x, edge_index=edge_index, y=y, num_nodes=num_nodes)
