"""SGL views of a user-item interaction graph: edge dropout, node dropout, per-layer dropout.

SGL (Wu et al., SIGIR 2021) draws two stochastic subgraphs of the training interactions
``R`` (``I`` users x ``J`` items) per epoch and propagates LightGCN over each. Every view here
is returned as the renormalised symmetric bipartite adjacency of the subgraph ``R'``

    Ā' = D'^{-1/2} [[0, R'], [R'^T, 0]] D'^{-1/2}      ((I+J) x (I+J), sparse CSR)

with ``D'`` the node degrees of the subgraph itself and zero rows for nodes left without an
interaction (users are nodes ``0 .. I-1``, item ``j`` is node ``I + j``, as in
:meth:`gcl.data.interactions.InteractionGraph.normalized_adjacency`).

* **ED** (edge dropout): keep ``floor((1 - ρ) |R|)`` interactions chosen uniformly without
  replacement (both directions of an interaction together).
* **ND** (node dropout): drop ``floor(ρ I)`` users and ``floor(ρ J)`` items chosen uniformly
  without replacement, with all their interactions; dropped nodes stay as zero rows.
* **RW** ("random walk"): an independent ED graph per layer, returned as a list of ``L``
  adjacencies (no walk is sampled, as in the official code).

The degrees are recomputed from ``R'`` in one ``bincount`` per side and the CSR is assembled
without a sort: the interactions are kept in their user-major order for the user rows and in a
precomputed item-major order for the item rows, so a view costs O(|R| + I + J).
"""
from __future__ import annotations

import math
import warnings
from typing import Union

import torch
from torch import Tensor

from gcl.data.interactions import InteractionGraph

GraphLike = Union[InteractionGraph, Tensor]


def _csr(crow: Tensor, col: Tensor, val: Tensor, n: int) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        return torch.sparse_csr_tensor(crow, col, val, size=(n, n), check_invariants=False)


def _check_ratio(name: str, ratio: float) -> None:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {ratio}")


class InteractionViews:
    """SGL view generator bound to one training matrix (precomputes the pair orders).

    Args:
        graph: an :class:`InteractionGraph` (its ``train`` split is used) or a binary user x
            item sparse CSR tensor ``[I, J]`` (columns sorted within rows, no duplicates).

    Example::

        views = InteractionViews(graph)
        a1 = views.edge_dropout(0.1, generator=g)      # [(I+J), (I+J)] CSR
        layers = views.random_walk(0.1, num_layers=3, generator=g)
    """

    def __init__(self, graph: GraphLike) -> None:
        if isinstance(graph, InteractionGraph):
            train = graph.train
        elif isinstance(graph, Tensor) and graph.layout == torch.sparse_csr and graph.dim() == 2:
            train = graph
        else:
            raise ValueError("graph must be an InteractionGraph or a 2-D sparse CSR user x item tensor")
        self.n_users, self.n_items = int(train.size(0)), int(train.size(1))
        crow = train.crow_indices()
        self.device = crow.device
        self.items = train.col_indices()
        self.users = torch.repeat_interleave(
            torch.arange(self.n_users, device=self.device), crow[1:] - crow[:-1]
        )
        # item-major order of the (user-major) pairs: a stable sort keeps users ascending
        self.item_order = torch.argsort(self.items, stable=True)

    @property
    def n_interactions(self) -> int:
        return int(self.items.numel())

    @property
    def n_nodes(self) -> int:
        return self.n_users + self.n_items

    # --- the normalised adjacency of a subgraph ------------------------------------------

    def adjacency(self, keep: Tensor | None = None) -> Tensor:
        """``D'^{-1/2} A' D'^{-1/2}`` of the interactions selected by ``keep``.

        Args:
            keep: ``[|R|]`` bool over the training pairs in user-major order (``None``: all).

        Returns:
            float32 sparse CSR ``[I+J, I+J]``, columns sorted within rows.
        """
        users, items = self.users, self.items
        if keep is None:
            keep = torch.ones(users.numel(), dtype=torch.bool, device=self.device)
        if keep.shape != users.shape or keep.dtype != torch.bool:
            raise ValueError(f"keep must be a bool tensor of shape {tuple(users.shape)}")
        u, i = users[keep], items[keep]
        d_user = torch.bincount(u, minlength=self.n_users).to(torch.float32)
        d_item = torch.bincount(i, minlength=self.n_items).to(torch.float32)
        inv_u = torch.where(d_user > 0, d_user.clamp(min=1).rsqrt(), torch.zeros_like(d_user))
        inv_i = torch.where(d_item > 0, d_item.clamp(min=1).rsqrt(), torch.zeros_like(d_item))
        w = inv_u[u] * inv_i[i]
        # item rows: the kept pairs in item-major order
        keep_t = keep[self.item_order]
        order_t = self.item_order[keep_t]
        w_full = torch.zeros(users.numel(), dtype=torch.float32, device=self.device)
        w_full[keep] = w
        crow = torch.zeros(self.n_nodes + 1, dtype=torch.long, device=self.device)
        crow[1:] = torch.cumsum(torch.cat([d_user, d_item]).long(), 0)
        col = torch.cat([i + self.n_users, users[order_t]])
        val = torch.cat([w, w_full[order_t]])
        return _csr(crow, col, val, self.n_nodes)

    # --- random selections -----------------------------------------------------------------

    def _choose(self, n: int, k: int, generator: torch.Generator | None) -> Tensor:
        """``[n]`` bool with exactly ``k`` True entries chosen uniformly without replacement."""
        gdev = generator.device if generator is not None else self.device
        perm = torch.randperm(n, generator=generator, device=gdev).to(self.device)
        mask = torch.zeros(n, dtype=torch.bool, device=self.device)
        mask[perm[:k]] = True
        return mask

    def edge_keep_mask(self, ratio: float, generator: torch.Generator | None = None) -> Tensor:
        """``[|R|]`` bool: ``floor((1 - ratio) |R|)`` interactions kept uniformly (SGL-ED)."""
        _check_ratio("ratio", ratio)
        n = self.n_interactions
        return self._choose(n, math.floor((1.0 - ratio) * n), generator)

    def node_keep_masks(
        self, ratio: float, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``([I], [J])`` bool keep masks: ``floor(ratio I)`` users and ``floor(ratio J)`` items
        dropped uniformly (SGL-ND)."""
        _check_ratio("ratio", ratio)
        drop_u = self._choose(self.n_users, math.floor(ratio * self.n_users), generator)
        drop_i = self._choose(self.n_items, math.floor(ratio * self.n_items), generator)
        return ~drop_u, ~drop_i

    # --- the views ---------------------------------------------------------------------------

    def edge_dropout(self, ratio: float, generator: torch.Generator | None = None) -> Tensor:
        """SGL-ED view: the renormalised adjacency after dropping ``ratio`` of the interactions.

        Args:
            ratio: ρ in [0, 1); ``floor((1 - ρ) |R|)`` interactions are kept.
            generator: source of randomness.

        Returns:
            float32 sparse CSR ``[I+J, I+J]``.
        """
        return self.adjacency(self.edge_keep_mask(ratio, generator))

    def node_dropout(self, ratio: float, generator: torch.Generator | None = None) -> Tensor:
        """SGL-ND view: drop ``floor(ρ I)`` users and ``floor(ρ J)`` items with their
        interactions, then renormalise (dropped nodes are zero rows).

        Returns:
            float32 sparse CSR ``[I+J, I+J]``.
        """
        keep_u, keep_i = self.node_keep_masks(ratio, generator)
        return self.adjacency(keep_u[self.users] & keep_i[self.items])

    def random_walk(
        self, ratio: float, num_layers: int, generator: torch.Generator | None = None
    ) -> list[Tensor]:
        """SGL-RW view: ``num_layers`` independent ED adjacencies, one per propagation layer.

        Returns:
            list of ``num_layers`` float32 sparse CSR ``[I+J, I+J]`` tensors (layer 1 first).
        """
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        return [self.edge_dropout(ratio, generator) for _ in range(num_layers)]

    def view(
        self, kind: str, ratio: float, num_layers: int = 1, generator: torch.Generator | None = None
    ) -> list[Tensor]:
        """One SGL view as a per-layer list: ``kind`` in ``{"ed", "nd", "rw"}``.

        ED and ND repeat one adjacency ``num_layers`` times (the same object); RW draws
        ``num_layers`` independent ones. Layer ``l`` propagates with element ``l - 1``.
        """
        kind = kind.lower()
        if kind == "rw":
            return self.random_walk(ratio, num_layers, generator)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if kind == "ed":
            adj = self.edge_dropout(ratio, generator)
        elif kind == "nd":
            adj = self.node_dropout(ratio, generator)
        else:
            raise ValueError(f"kind must be 'ed', 'nd' or 'rw', got {kind!r}")
        return [adj] * num_layers


def edge_dropout_adjacency(
    graph: GraphLike, ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """SGL-ED view of ``graph`` (see :meth:`InteractionViews.edge_dropout`)."""
    return InteractionViews(graph).edge_dropout(ratio, generator)


def node_dropout_adjacency(
    graph: GraphLike, ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """SGL-ND view of ``graph`` (see :meth:`InteractionViews.node_dropout`)."""
    return InteractionViews(graph).node_dropout(ratio, generator)


def random_walk_adjacencies(
    graph: GraphLike, ratio: float, num_layers: int, generator: torch.Generator | None = None
) -> list[Tensor]:
    """SGL-RW view of ``graph``: one ED adjacency per layer (see
    :meth:`InteractionViews.random_walk`)."""
    return InteractionViews(graph).random_walk(ratio, num_layers, generator)


__all__ = [
    "InteractionViews",
    "edge_dropout_adjacency",
    "node_dropout_adjacency",
    "random_walk_adjacencies",
]
