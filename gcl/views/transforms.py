"""Callable view classes wrapping :mod:`gcl.views.graph`, :mod:`gcl.views.subgraph` and
:mod:`gcl.views.sequence`, plus :class:`Compose` and :class:`RandomChoice`.

Every view is called as ``view(data, generator=None)`` and returns a new object (a
``Data``/``Batch`` for graph views, a ``[B, L]`` tensor for sequence views), leaving the
input untouched; ``generator`` (``None``: torch's global generator) is the only source of
randomness. Without a generator they also work as PyG dataset transforms
(``transform=EdgeDrop(0.2)``).

>>> views = RandomChoice([NodeDrop(0.2), GrowSubgraph(0.2, extra_nodes=1)], per_graph=True)
>>> v1, v2 = views(batch, generator=g), views(batch, generator=g)
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from gcl.views.graph import (
    Fill,
    edge_add,
    edge_drop,
    edge_perturb,
    feature_mask,
    GraphLayout,
    graph_layout,
    induced_subgraph,
    merge_graph_views,
    node_drop,
    node_drop_keep,
    select_graphs,
)
from gcl.views.sequence import seq_crop, seq_mask, seq_random_augment, seq_reorder
from gcl.views.subgraph import grow_subgraph, grow_subgraph_keep, khop_subgraph, random_walk_subgraph

View = Callable[..., Any]


class _View:
    """Base: stores keyword arguments, calls ``self._fn(data, **kwargs, generator=...)``."""

    _fn: Callable[..., Any]

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __call__(self, data: Any, generator: torch.Generator | None = None) -> Any:
        return type(self)._fn(data, **self.kwargs, generator=generator)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- graph views


class EdgeDrop(_View):
    """Drop ``floor(p * m_g)`` edges of every graph (:func:`gcl.views.graph.edge_drop`)."""

    _fn = staticmethod(edge_drop)

    def __init__(self, p: float, *, undirected: bool = True) -> None:
        super().__init__(p=p, undirected=undirected)


class EdgeAdd(_View):
    """Add ``floor(p * m_g)`` new edges to every graph (:func:`gcl.views.graph.edge_add`)."""

    _fn = staticmethod(edge_add)

    def __init__(self, p: float, *, undirected: bool = True, fill: Fill = None) -> None:
        super().__init__(p=p, undirected=undirected, fill=fill)


class EdgePerturb(_View):
    """GraphCL edge perturbation (:func:`gcl.views.graph.edge_perturb`)."""

    _fn = staticmethod(edge_perturb)

    def __init__(
        self,
        p: float,
        *,
        add_p: float | None = None,
        undirected: bool = True,
        fill: Fill = None,
    ) -> None:
        super().__init__(p=p, add_p=add_p, undirected=undirected, fill=fill)


class NodeDrop(_View):
    """GraphCL node dropping (:func:`gcl.views.graph.node_drop`)."""

    _fn = staticmethod(node_drop)

    def __init__(self, p: float) -> None:
        super().__init__(p=p)

    def keep_mask(self, data: Data, layout: GraphLayout, generator: torch.Generator | None = None) -> Tensor:
        """``[N]`` bool: the nodes this view keeps (a node-subset view; see :class:`RandomChoice`)."""
        return node_drop_keep(layout, self.kwargs["p"], generator=generator)[0]


class FeatureMask(_View):
    """GraphCL attribute masking (:func:`gcl.views.graph.feature_mask`)."""

    _fn = staticmethod(feature_mask)

    def __init__(
        self,
        p: float,
        *,
        value: Fill = None,
        mean: float = 0.5,
        std: float = 0.5,
        key: str = "x",
    ) -> None:
        super().__init__(p=p, value=value, mean=mean, std=std, key=key)


class RandomWalkSubgraph(_View):
    """Nodes visited by one random walk per graph
    (:func:`gcl.views.subgraph.random_walk_subgraph`)."""

    _fn = staticmethod(random_walk_subgraph)

    def __init__(
        self,
        keep_ratio: float = 0.2,
        *,
        extra_nodes: int = 0,
        max_steps: int | None = None,
        restart: float = 0.0,
    ) -> None:
        super().__init__(
            keep_ratio=keep_ratio, extra_nodes=extra_nodes, max_steps=max_steps, restart=restart
        )


class KHopSubgraph(_View):
    """The ``num_hops``-hop ball of a random seed per graph
    (:func:`gcl.views.subgraph.khop_subgraph`)."""

    _fn = staticmethod(khop_subgraph)

    def __init__(self, num_hops: int = 2) -> None:
        super().__init__(num_hops=num_hops)


class GrowSubgraph(_View):
    """GraphCL's frontier-growth subgraph (:func:`gcl.views.subgraph.grow_subgraph`)."""

    _fn = staticmethod(grow_subgraph)

    def __init__(
        self,
        keep_ratio: float = 0.2,
        *,
        extra_nodes: int = 0,
        faithful_subgraph_bug: bool = False,
    ) -> None:
        super().__init__(
            keep_ratio=keep_ratio,
            extra_nodes=extra_nodes,
            faithful_subgraph_bug=faithful_subgraph_bug,
        )

    def keep_mask(self, data: Data, layout: GraphLayout, generator: torch.Generator | None = None) -> Tensor:
        """``[N]`` bool: the nodes this view keeps (a node-subset view; see :class:`RandomChoice`)."""
        return grow_subgraph_keep(data, layout, **self.kwargs, generator=generator)[0]


# ------------------------------------------------------------------------ sequence views


class SeqCrop(_View):
    """Crop every sequence to ``floor(eta * len)`` items (:func:`gcl.views.sequence.seq_crop`)."""

    _fn = staticmethod(seq_crop)

    def __init__(self, eta: float = 0.5, *, pad: int = 0) -> None:
        super().__init__(eta=eta, pad=pad)


class SeqMask(_View):
    """Mask ``floor(gamma * len)`` items per sequence (:func:`gcl.views.sequence.seq_mask`)."""

    _fn = staticmethod(seq_mask)

    def __init__(self, mask_token: int, gamma: float = 0.5, *, pad: int = 0) -> None:
        super().__init__(mask_token=mask_token, gamma=gamma, pad=pad)


class SeqReorder(_View):
    """Shuffle a window of ``floor(beta * len)`` items (:func:`gcl.views.sequence.seq_reorder`)."""

    _fn = staticmethod(seq_reorder)

    def __init__(self, beta: float = 0.8, *, pad: int = 0) -> None:
        super().__init__(beta=beta, pad=pad)


class SeqRandomAugment(_View):
    """Crop, mask or reorder, chosen uniformly **per sequence**
    (:func:`gcl.views.sequence.seq_random_augment`)."""

    _fn = staticmethod(seq_random_augment)

    def __init__(
        self,
        mask_token: int,
        *,
        eta: float = 0.5,
        gamma: float = 0.5,
        beta: float = 0.8,
        pad: int = 0,
    ) -> None:
        super().__init__(mask_token=mask_token, eta=eta, gamma=gamma, beta=beta, pad=pad)


# ---------------------------------------------------------------------------- combinators


class Compose:
    """Apply ``transforms`` one after the other, all with the same generator."""

    def __init__(self, transforms: Sequence[View]) -> None:
        self.transforms = list(transforms)

    def __call__(self, data: Any, generator: torch.Generator | None = None) -> Any:
        for t in self.transforms:
            data = t(data, generator=generator)
        return data

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class RandomChoice:
    """Apply one of ``transforms``, chosen at random (weights ``p``, default uniform).

    By default one transform is drawn **per call**, so a whole ``Batch`` gets the same
    augmentation. With ``per_graph=True`` every graph of a batch draws its own transform
    (the official GraphCL code picks ``aug='random'`` per graph, inside the dataset's
    ``get``): the batch is split by choice with :func:`gcl.views.graph.select_graphs`, each
    part is transformed, and :func:`gcl.views.graph.merge_graph_views` puts the graphs back
    in their input order. When every transform is a node-subset view (it has ``keep_mask``:
    :class:`NodeDrop`, :class:`GrowSubgraph`) no split is needed: each transform draws its
    node mask on the whole batch, every graph takes the mask of its own choice, and one
    induced subgraph is built (the same distribution: the graphs' draws are independent).
    On a plain ``Data`` or a tensor both modes are the same.

    Args:
        transforms: callables ``t(data, generator=None)``.
        p: ``[len(transforms)]`` non-negative weights.
        per_graph: one draw per graph of a batch instead of one per call.
    """

    def __init__(
        self,
        transforms: Sequence[View],
        p: Sequence[float] | None = None,
        *,
        per_graph: bool = False,
    ) -> None:
        self.transforms = list(transforms)
        if not self.transforms:
            raise ValueError("transforms must not be empty")
        k = len(self.transforms)
        weights = torch.ones(k) if p is None else torch.as_tensor(p, dtype=torch.float64)
        if weights.shape != (k,) or bool((weights < 0).any()) or float(weights.sum()) <= 0:
            raise ValueError(f"p must hold {k} non-negative weights with a positive sum, got {p}")
        self.p = weights.to(torch.float64) / weights.sum()
        self.per_graph = per_graph

    def _draw(self, n: int, generator: torch.Generator | None) -> Tensor:
        device = generator.device if generator is not None else torch.device("cpu")
        return torch.multinomial(self.p.to(device), n, replacement=True, generator=generator)

    def __call__(self, data: Any, generator: torch.Generator | None = None) -> Any:
        batched = isinstance(data, Data) and getattr(data, "batch", None) is not None
        if not (self.per_graph and batched):
            i = int(self._draw(1, generator)[0])
            return self.transforms[i](data, generator=generator)
        layout = graph_layout(data)
        choice = self._draw(layout.num_graphs, generator).to(layout.batch.device)
        used = torch.unique(choice).tolist()
        if len(used) == 1:
            return self.transforms[used[0]](data, generator=generator)
        if all(hasattr(self.transforms[i], "keep_mask") for i in used):
            node_choice = choice[layout.batch]
            keep = torch.zeros(layout.num_nodes, dtype=torch.bool, device=layout.batch.device)
            for i in used:
                keep = torch.where(node_choice == i, self.transforms[i].keep_mask(data, layout, generator), keep)
            return induced_subgraph(data, keep, layout)
        views, ids = [], []
        for i in used:
            mask = choice == i
            views.append(self.transforms[i](select_graphs(data, mask), generator=generator))
            ids.append(mask.nonzero().view(-1))
        return merge_graph_views(data, views, ids)

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"RandomChoice([{inner}], p={self.p.tolist()}, per_graph={self.per_graph})"


__all__ = [
    "Compose",
    "EdgeAdd",
    "EdgeDrop",
    "EdgePerturb",
    "FeatureMask",
    "GrowSubgraph",
    "KHopSubgraph",
    "NodeDrop",
    "RandomChoice",
    "RandomWalkSubgraph",
    "SeqCrop",
    "SeqMask",
    "SeqRandomAugment",
    "SeqReorder",
]
