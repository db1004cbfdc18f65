"""Graph views on a PyG ``Data`` (one graph) or ``Batch`` (many graphs): edge drop, edge
add, edge perturbation, node drop and feature masking.

**One graph or many.** A ``Data`` without a ``batch`` vector is one graph. A ``Batch`` (or any
``Data`` with a ``batch`` vector) holds many graphs; ``batch[i]`` says which graph node ``i``
belongs to. Nodes must be grouped by graph (``batch`` non-decreasing) and edges too (the
edges of graph 0 first, then those of graph 1, ...), as ``Batch.from_data_list`` makes them.

**Per-graph, exact counts.** Every ratio applies to each graph on its own, with an exact
count ``floor(r * size_g)`` (GraphCL's ``int(n * r)``), never a per-element coin: graph
``g`` with ``n_g`` nodes and ``m_g`` edges loses exactly ``floor(r * m_g)`` edges in
:func:`edge_drop`, ``floor(r * n_g)`` nodes in :func:`node_drop`, and so on. Elements are
chosen uniformly without replacement. No edge ever joins two graphs.

**Undirected graphs** (``undirected=True``, the default) are handled as unordered pairs
``{u, v}``: both directions of a pair are dropped or kept together and every added pair is
added in both directions, so a symmetric input gives a symmetric view. ``m_g`` counts the
distinct pairs of graph ``g`` (a self-loop is its own pair; parallel copies of a pair count
once and share its fate). With ``undirected=False`` every distinct ordered pair ``(u, v)``
is one element.

**Attributes.** Node-level attributes (``x``, ``pos``, node labels, ...) follow their
nodes; edge-level attributes (``edge_attr``, ``edge_weight``, ...) follow their edges; what
an augmentation does not change is shared with the input, never copied and never written.
Added edges get the attributes of a uniformly chosen existing edge of the same graph, the
batch's per-column marginals (``fill="marginal"``) or a given ``fill`` value. A key is
node-level if its first dimension has one row per node, edge-level if its name contains
``"edge"`` and it has one row per edge (on a ``Batch``, the per-graph slices recorded by
``from_data_list`` decide, so graph-level ``y`` is never mistaken for a node or edge
attribute).

**Output.** A new object of the input's class: the input is never modified. On a batch,
``batch``, ``ptr``, ``num_nodes`` and the per-graph slices are updated, so
``out.to_data_list()`` returns valid graphs (every edge inside its own graph's node range).

**Randomness** comes only from ``generator`` (``None``: torch's global generator): the same
generator state gives the same view. Every function can also return the per-graph counts it
actually applied (``return_counts=True``).

**Vectorised.** No Python loop over graphs, nodes or edges. Node pairs are positions on a
*pair line* (the ``n (n + 1) / 2`` unordered or ``n^2`` ordered pairs of every graph, graph
after graph), kept in a dense table where that is small against the input (sorted
otherwise): one ``scatter_reduce`` finds the distinct pairs of all graphs. Edges to drop and
pairs to add are drawn for all graphs at once by sequential rejection
(:func:`gcl.views._segments.rejection_rounds`: i.i.d. uniform candidates, the first ``k_g``
acceptable distinct ones kept, a uniform sample without replacement). Node drop and
feature masking keep the ``k_g`` smallest random keys of every graph (:func:`segment_rank`,
one sort).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor
from torch_geometric.data import Data

from gcl.views._segments import (
    RejectionFamily,
    SlotTable,
    SubsetFamily,
    ptr_from_counts,
    rejection_rounds,
    segment_rank,
    segment_subset_mask,
    uniform,
    uniform_index,
)

#: Attributes of added edges: ``None`` (copy a random edge of the same graph), ``"marginal"``
#: (each column from its own random edge of the batch), or a scalar / tensor broadcast to a
#: row. For node features (:func:`feature_mask`): a scalar or a row.
Fill = Union[float, int, Tensor, str, None]

_SKIP_KEYS = {"edge_index", "batch", "ptr", "num_nodes"}


# ---------------------------------------------------------------------------------------
# Randomness and segment helpers
# ---------------------------------------------------------------------------------------

_rand = uniform
_ptr_from_counts = ptr_from_counts


def _floor_count(ratio: float, sizes: Tensor) -> Tensor:
    """``floor(ratio * sizes)`` in float64, equal to Python's ``int(ratio * size)``."""
    return torch.floor(sizes.to(torch.float64) * ratio).to(torch.long)

# ---------------------------------------------------------------------------------------
# Layout of a Data / Batch
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphLayout:
    """Which graph every node and edge of a ``Data``/``Batch`` belongs to.

    Attributes:
        num_graphs: ``B`` (1 for a plain ``Data``).
        num_nodes: ``N``, all graphs together.
        batch: ``[N]`` long graph of every node.
        ptr: ``[B + 1]`` long; graph ``g`` owns nodes ``ptr[g] .. ptr[g + 1] - 1``.
        edge_ptr: ``[B + 1]`` long; graph ``g`` owns edge columns ``edge_ptr[g] ..``.
        edge_graph: ``[E]`` long graph of every edge (that of its source node).
        node_keys: node-level attributes (one row per node).
        edge_keys: edge-level attributes other than ``edge_index`` (one row per edge).
        graph_keys: graph-level tensors of a batch (one row per graph).
        batched: whether the object carries a ``batch`` vector to keep up to date.
    """

    num_graphs: int
    num_nodes: int
    batch: Tensor
    ptr: Tensor
    edge_ptr: Tensor
    edge_graph: Tensor
    node_keys: tuple[str, ...]
    edge_keys: tuple[str, ...]
    graph_keys: tuple[str, ...]
    batched: bool

    @property
    def node_counts(self) -> Tensor:
        """``[B]`` nodes per graph."""
        return self.ptr[1:] - self.ptr[:-1]

    @property
    def edge_counts(self) -> Tensor:
        """``[B]`` edge columns per graph."""
        return self.edge_ptr[1:] - self.edge_ptr[:-1]


def _classify(
    data: Data, num_nodes: int, num_edges: int, num_graphs: int, batched: bool,
    ptr: Tensor, edge_ptr: Tensor,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    slice_dict = getattr(data, "_slice_dict", None) if batched else None
    graph_slices = torch.arange(num_graphs + 1)
    node_slices, edge_slices = ptr.cpu(), edge_ptr.cpu()
    node_keys, edge_keys, graph_keys = [], [], []
    for key in data.keys():
        if key in _SKIP_KEYS:
            continue
        value = data[key]
        if not isinstance(value, Tensor) or value.dim() == 0:
            continue
        if data.__cat_dim__(key, value) != 0:
            continue
        edge_named = "edge" in key
        if slice_dict is not None and key in slice_dict:
            s = torch.as_tensor(slice_dict[key]).cpu()
            same = lambda ref: s.shape == ref.shape and torch.equal(s, ref)  # noqa: E731
            is_edge = same(edge_slices) and value.size(0) == num_edges
            if is_edge and edge_named:
                edge_keys.append(key)
            elif same(node_slices) and value.size(0) == num_nodes:
                node_keys.append(key)
            elif is_edge and not same(graph_slices):
                edge_keys.append(key)
            elif same(graph_slices) and value.size(0) == num_graphs:
                graph_keys.append(key)
            continue
        size = value.size(0)
        if edge_named and size == num_edges:
            edge_keys.append(key)
        elif size == num_nodes:
            node_keys.append(key)
        elif batched and size == num_graphs:
            graph_keys.append(key)
    return tuple(node_keys), tuple(edge_keys), tuple(graph_keys)


def graph_layout(data: Data) -> GraphLayout:
    """The :class:`GraphLayout` of a ``Data`` (one graph) or ``Batch`` (many graphs).

    Raises:
        ValueError: ``data`` has no ``edge_index``.
    """
    edge_index = getattr(data, "edge_index", None)
    if edge_index is None:
        raise ValueError("data must have an edge_index")
    device = edge_index.device
    num_nodes = int(data.num_nodes or 0)
    batch = getattr(data, "batch", None)
    batched = batch is not None
    if batched:
        num_graphs = int(getattr(data, "num_graphs", 0) or 0)
        if num_graphs == 0 and num_nodes > 0:
            num_graphs = int(batch.max()) + 1
        ptr = getattr(data, "ptr", None)
        if ptr is None:
            ptr = _ptr_from_counts(torch.bincount(batch, minlength=num_graphs))
    else:
        num_graphs = 1
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
        ptr = torch.tensor([0, num_nodes], dtype=torch.long, device=device)
    edge_graph = batch.index_select(0, edge_index[0])
    edge_ptr = _ptr_from_counts(torch.bincount(edge_graph, minlength=num_graphs))
    keys = _classify(
        data, num_nodes, edge_index.size(1), num_graphs, batched, ptr, edge_ptr
    )
    return GraphLayout(num_graphs, num_nodes, batch, ptr, edge_ptr, edge_graph, *keys, batched)


def _rebuild(
    data: Data,
    layout: GraphLayout,
    *,
    edge_index: Tensor,
    edge_values: dict[str, Tensor],
    node_index: Tensor | None = None,
    node_values: dict[str, Tensor] | None = None,
    batch: Tensor | None = None,
    edge_ptr: Tensor | None = None,
) -> Data:
    """A shallow copy of ``data`` with new nodes/edges, batch bookkeeping fixed up.

    ``node_index`` gathers every node-level attribute (``None``: nodes unchanged);
    ``node_values`` replaces single node-level attributes; ``batch`` is the new graph of
    every node (required when ``node_index`` is given). Edges must be grouped by graph;
    ``edge_ptr`` (``[B + 1]``), when known, saves counting the new edges per graph.
    """
    out = copy.copy(data)
    nodes_changed = node_index is not None or batch is not None
    if node_index is not None:
        for key in layout.node_keys:
            out[key] = data[key].index_select(0, node_index)
    for key, value in (node_values or {}).items():
        out[key] = value
    out.edge_index = edge_index
    for key in layout.edge_keys:
        out[key] = edge_values[key]
    new_batch = layout.batch if batch is None else batch
    if nodes_changed:
        counts = torch.bincount(new_batch, minlength=layout.num_graphs)
        ptr = _ptr_from_counts(counts)
        if "num_nodes" in data.keys():
            out.num_nodes = int(new_batch.numel())
        if layout.batched:
            out.batch = new_batch
            if getattr(data, "ptr", None) is not None:
                out.ptr = ptr
            if data._store.__dict__.get("_num_nodes") is not None:
                out._store._num_nodes = counts.tolist()
    else:
        ptr = layout.ptr
    slice_dict = getattr(data, "_slice_dict", None) if layout.batched else None
    if slice_dict is not None:
        if edge_ptr is None:
            edge_graph = new_batch[edge_index[0]]
            edge_ptr = _ptr_from_counts(torch.bincount(edge_graph, minlength=layout.num_graphs))
        new_slices = dict(slice_dict)
        for key in layout.node_keys:
            new_slices[key] = ptr.cpu()
        for key in (*layout.edge_keys, "edge_index"):
            if key in new_slices:
                new_slices[key] = edge_ptr.cpu()
        out._slice_dict = new_slices
        inc_dict = getattr(data, "_inc_dict", None)
        if inc_dict is not None and "edge_index" in inc_dict:
            new_inc = dict(inc_dict)
            new_inc["edge_index"] = ptr[:-1].cpu()
            out._inc_dict = new_inc
    return out


def _induced(data: Data, layout: GraphLayout, keep: Tensor) -> Data:
    """The subgraph induced by the nodes with ``keep[i]`` (relabelled, order kept)."""
    node_index = keep.nonzero().view(-1)
    new_id = torch.full((layout.num_nodes,), -1, dtype=torch.long, device=keep.device)
    new_id[node_index] = torch.arange(node_index.numel(), device=keep.device)
    ei = data.edge_index
    edge_keep = keep[ei[0]] & keep[ei[1]]
    edge_ids = edge_keep.nonzero().view(-1)
    new_ei = new_id[ei.index_select(1, edge_ids)]
    edge_values = {k: data[k].index_select(0, edge_ids) for k in layout.edge_keys}
    return _rebuild(
        data,
        layout,
        edge_index=new_ei,
        edge_values=edge_values,
        node_index=node_index,
        batch=layout.batch.index_select(0, node_index),
    )


def select_graphs(data: Data, graph_mask: Tensor) -> Data:
    """The graphs ``g`` of a batch with ``graph_mask[g]``, as a smaller batch of the same class.

    Node-, edge- and graph-level tensors are filtered; ``batch``, ``ptr``, ``num_graphs``
    and the per-graph slices are renumbered, so the result is a valid batch in its own
    right (``to_data_list()`` works).

    Args:
        data: a ``Batch`` (or ``Data`` with a ``batch`` vector).
        graph_mask: ``[B]`` bool.
    """
    layout = graph_layout(data)
    graph_mask = torch.as_tensor(graph_mask, dtype=torch.bool, device=layout.batch.device)
    if graph_mask.numel() != layout.num_graphs:
        raise ValueError(
            f"graph_mask must hold one entry per graph ({layout.num_graphs}), "
            f"got {graph_mask.numel()}"
        )
    device = layout.batch.device
    node_index = graph_mask[layout.batch].nonzero().view(-1)
    edge_ids = graph_mask[layout.edge_graph].nonzero().view(-1)
    new_id = torch.full((layout.num_nodes,), -1, dtype=torch.long, device=device)
    new_id[node_index] = torch.arange(node_index.numel(), device=device)
    graph_id = torch.cumsum(graph_mask.long(), 0) - 1
    num_graphs = int(graph_mask.sum())
    batch = graph_id[layout.batch[node_index]]
    counts = torch.bincount(batch, minlength=num_graphs)
    ptr = _ptr_from_counts(counts)
    edge_index = new_id[data.edge_index.index_select(1, edge_ids)]
    edge_ptr = _ptr_from_counts(torch.bincount(batch[edge_index[0]], minlength=num_graphs))

    out = copy.copy(data)
    for key in layout.node_keys:
        out[key] = data[key].index_select(0, node_index)
    for key in layout.edge_keys:
        out[key] = data[key].index_select(0, edge_ids)
    graph_index = graph_mask.nonzero().view(-1)
    for key in layout.graph_keys:
        out[key] = data[key].index_select(0, graph_index)
    out.edge_index = edge_index
    out.batch = batch
    out.ptr = ptr
    if "num_nodes" in data.keys():
        out.num_nodes = int(batch.numel())
    if data._store.__dict__.get("_num_nodes") is not None:
        out._store._num_nodes = counts.tolist()
    if "_num_graphs" in data._store.__dict__:
        out._num_graphs = num_graphs
    slice_dict = getattr(data, "_slice_dict", None)
    if slice_dict is not None:
        new_slices: dict[str, Tensor] = {}
        for key in layout.node_keys:
            new_slices[key] = ptr.cpu()
        for key in (*layout.edge_keys, "edge_index"):
            new_slices[key] = edge_ptr.cpu()
        for key in layout.graph_keys:
            new_slices[key] = torch.arange(num_graphs + 1)
        out._slice_dict = new_slices
        inc = {key: torch.zeros(num_graphs, dtype=torch.long) for key in new_slices}
        inc["edge_index"] = ptr[:-1].cpu()
        out._inc_dict = inc
    return out


def merge_graph_views(data: Data, views: list[Data], graph_ids: list[Tensor]) -> Data:
    """Put per-graph views of disjoint graph subsets of ``data`` back in ``data``'s order.

    ``views[i]`` is a batch whose graph ``j`` replaces graph ``graph_ids[i][j]`` of
    ``data``; together the ``graph_ids`` must cover every graph of ``data`` once. Node- and
    edge-level attributes come from the views, everything else (graph-level ``y``, ...) from
    ``data``.
    """
    layout = graph_layout(data)
    device = layout.batch.device
    node_graph = torch.cat([ids.to(device)[v.batch] for v, ids in zip(views, graph_ids)])
    sizes = torch.tensor([int(v.num_nodes or 0) for v in views], dtype=torch.long, device=device)
    offsets = torch.cumsum(sizes, 0) - sizes
    order = torch.argsort(node_graph, stable=True)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel(), device=device)
    edge_index = inverse[
        torch.cat([v.edge_index + offsets[i] for i, v in enumerate(views)], 1)
    ]
    new_batch = node_graph[order]
    edge_order = torch.argsort(new_batch[edge_index[0]], stable=True)
    node_values = {
        key: torch.cat([v[key] for v in views], 0).index_select(0, order)
        for key in layout.node_keys
    }
    edge_values = {
        key: torch.cat([v[key] for v in views], 0).index_select(0, edge_order)
        for key in layout.edge_keys
    }
    return _rebuild(
        data,
        layout,
        edge_index=edge_index.index_select(1, edge_order),
        edge_values=edge_values,
        node_values=node_values,
        batch=new_batch,
    )


# ---------------------------------------------------------------------------------------
# Edge pairs and the pair line
# ---------------------------------------------------------------------------------------

# The pair line of a batch is a dense table when it has at most this many slots per input
# node + edge (plus a constant); above that, a sorted list of the existing pairs.
_DENSE_LINE_FACTOR = 16
_DENSE_LINE_MIN = 1 << 16


class _PairLine:
    """The set of node pairs that are edges, as positions on the batch's *pair line*.

    Every graph ``g`` owns ``S_g`` consecutive positions: ``n (n + 1) / 2`` unordered
    pairs ``a <= b`` (local ids) at ``b (b + 1) / 2 + a`` if undirected, ``n^2`` ordered
    pairs at ``a n + b`` otherwise (self-loops included). ``position(a, b)`` of global node
    ids is ``base[b] + a`` (undirected, ``a <= b``) or ``base[a] + b``.

    Membership is a dense :class:`SlotTable` over the ``L = sum S_g`` positions (an edge's
    entry: the pair's first edge column) when ``L`` is small against the input, else the
    sorted positions of the pairs (``searchsorted``); both give the same answers. Built by
    :func:`_edge_pairs`.
    """

    def __init__(self, base: Tensor, size: int, undirected: bool, dense: bool) -> None:
        self.base = base
        self.size = size
        self.undirected = undirected
        self.dense = dense
        self.slots: SlotTable | None = None
        self.keys: Tensor | None = None

    def position(self, a: Tensor, b: Tensor) -> Tensor:
        """Positions of the pairs ``(a, b)`` (global node ids; ``a <= b`` if undirected)."""
        if self.undirected:
            return self.base.index_select(0, b).add_(a)
        return self.base.index_select(0, a).add_(b)

    def build(self, pos: Tensor, cols: Tensor) -> Tensor:
        """Store the edge positions ``pos`` ``[E]`` (``cols = arange(E)``, int32 if ``E <
        2^30``, else int64); return every column's pair representative ``rep[e]`` (of
        ``cols``' dtype) = the first column with the same position."""
        if self.dense:
            self.slots = SlotTable(self.size, pos.device, cols.dtype)
            self.slots.table.scatter_reduce_(0, pos, cols, "amin")
            return self.slots.table.index_select(0, pos)
        sorted_pos, perm = torch.sort(pos, stable=True)
        start = torch.ones(pos.numel(), dtype=torch.bool, device=pos.device)
        start[1:] = sorted_pos[1:] != sorted_pos[:-1]
        run = torch.cumsum(start, 0) - 1
        # stable sort: a run's first column is its smallest
        rep = torch.empty_like(cols).scatter_(0, perm, cols.index_select(0, perm[start][run]))
        self.keys = sorted_pos[start]
        return rep

    def contains(self, pos: Tensor) -> Tensor:
        """``[D]`` bool: the pair at ``pos`` is an edge (or was added)."""
        if self.slots is not None:
            return self.slots.occupied(pos)
        keys = self.keys
        if keys.numel() == 0:
            return torch.zeros(pos.shape, dtype=torch.bool, device=pos.device)
        at = torch.searchsorted(keys, pos).clamp_(max=keys.numel() - 1)
        return keys.index_select(0, at) == pos

    def fresh(self, pos: Tensor) -> Tensor:
        """``[D]`` bool: ``pos[i]`` is not an edge and does not occur in ``pos[:i]``."""
        if self.slots is not None:
            return self.slots.fresh(pos)
        d = pos.numel()
        sorted_pos, perm = torch.sort(pos, stable=True)
        start = torch.ones(d, dtype=torch.bool, device=pos.device)
        start[1:] = sorted_pos[1:] != sorted_pos[:-1]
        first = torch.zeros(d, dtype=torch.bool, device=pos.device)
        first[perm[start]] = True
        return first & ~self.contains(pos)

    def add(self, pos: Tensor) -> None:
        """Mark the (new, distinct) pairs at ``pos`` as edges."""
        if self.slots is not None:
            self.slots.take(pos)
        else:
            self.keys = torch.sort(torch.cat([self.keys, pos])).values


@dataclass(frozen=True)
class _Pairs:
    pair: Tensor  # [E] pair of every edge column (pairs numbered by first column: by graph)
    ptr: Tensor  # [B + 1] graph g owns pairs ptr[g] .. ptr[g + 1] - 1
    counts: Tensor  # [B] distinct pairs per graph (m_g)
    proper: Tensor  # [B] distinct pairs a != b per graph
    line: _PairLine


def _edge_pairs(layout: GraphLayout, edge_index: Tensor, undirected: bool) -> _Pairs:
    """The distinct pairs of every graph (unordered if ``undirected``) and the pair line.

    Pairs are identified by their pair-line position (see :class:`_PairLine`) and numbered
    in the order of their first edge column.
    """
    src, dst = edge_index[0], edge_index[1]
    device = src.device
    ptr, batch = layout.ptr, layout.batch
    start = ptr.index_select(0, batch)
    # base[i] = line_ptr[g] - ptr[g] + (l (l + 1) / 2 or l n_g) for node i = ptr[g] + l,
    # line_ptr[g] = sum of S_h over the graphs h < g: a cumulative sum over the nodes
    if undirected:
        base = torch.cumsum(torch.arange(layout.num_nodes, device=device) - start, 0)
        size = int(base[-1]) + layout.num_nodes if layout.num_nodes else 0
    else:
        before = _ptr_from_counts(layout.node_counts.index_select(0, batch))
        base = before[:-1] - start
        size = int(before[-1])
    dense = size <= _DENSE_LINE_FACTOR * (layout.num_nodes + src.numel()) + _DENSE_LINE_MIN
    line = _PairLine(base, size, undirected, dense)
    if undirected:
        pos = line.position(torch.minimum(src, dst), torch.maximum(src, dst))
    else:
        pos = line.position(src, dst)
    cols = torch.arange(
        src.numel(), device=device, dtype=torch.int32 if src.numel() < 2**30 else torch.long
    )
    rep = line.build(pos, cols)
    is_first = rep == cols
    csum = _ptr_from_counts(is_first)  # csum[e] = pairs first seen before column e
    pair_ptr = csum.index_select(0, layout.edge_ptr)
    counts = pair_ptr[1:] - pair_ptr[:-1]
    proper = counts
    loop = src == dst
    if bool(loop.any()):
        loops = _ptr_from_counts(is_first & loop).index_select(0, layout.edge_ptr)
        proper = counts - (loops[1:] - loops[:-1])
    return _Pairs(csum.index_select(0, rep), pair_ptr, counts, proper, line)


class _NonEdgeFamily(RejectionFamily):
    """Draws of new pairs for :func:`rejection_rounds`: segment ``g`` = graph ``g``, a draw
    = a uniform proper pair (node ``x``, node ``y != x``; unordered if undirected) of the
    graph, acceptable if it is not in ``line``."""

    width = 2

    def __init__(
        self, layout: GraphLayout, line: _PairLine, need: Tensor, total: Tensor, free: Tensor
    ) -> None:
        self.n, self.ptr, self.line = layout.node_counts, layout.ptr, line
        self.need, self.pool, self.free = need, total, free

    def propose(self, seg: Tensor, u: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        n = self.n.index_select(0, seg)
        x = uniform_index(u[0], n)
        y = uniform_index(u[1], n - 1)
        y += y >= x
        if self.line.undirected:
            x, y = torch.minimum(x, y), torch.maximum(x, y)
        start = self.ptr.index_select(0, seg)
        a, b = x.add_(start), y.add_(start)
        return self.line.position(a, b), (a, b)

    def fresh(self, slots: Tensor) -> Tensor:
        return self.line.fresh(slots)

    def take(self, slots: Tensor) -> None:
        self.line.add(slots)


def _listed_non_edges(
    layout: GraphLayout, line: _PairLine, listed: Tensor, k: Tensor,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``k[g]`` uniformly chosen free pairs of every graph with ``listed[g]``, from the list
    of all its free pairs: ``(a, b, graph)``, grouped by graph; ``line`` records them."""
    device = layout.batch.device
    n, ptr, batch = layout.node_counts, layout.ptr, layout.batch
    # every proper pair of the listed graphs: node b with every a < b (undirected) or node
    # a with every b != a, grouped by graph
    local = torch.arange(layout.num_nodes, device=device) - ptr.index_select(0, batch)
    per_node = local if line.undirected else n.index_select(0, batch) - 1
    per_node = torch.where(listed.index_select(0, batch), per_node, 0)
    node = torch.repeat_interleave(torch.arange(layout.num_nodes, device=device), per_node)
    t = torch.arange(node.numel(), device=device)
    t -= _ptr_from_counts(per_node).index_select(0, node)
    start = ptr.index_select(0, batch.index_select(0, node))
    if line.undirected:
        a, b = start + t, node
    else:
        a, b = node, start + t + (t >= local.index_select(0, node)).long()
    pos = line.position(a, b)
    ok = ~line.contains(pos)
    a, b, pos = a.masked_select(ok), b.masked_select(ok), pos.masked_select(ok)
    g = batch.index_select(0, a)
    pick = segment_subset_mask(
        torch.bincount(g, minlength=layout.num_graphs), torch.where(listed, k, 0), generator
    ).nonzero().view(-1)
    line.add(pos.index_select(0, pick))
    return a.index_select(0, pick), b.index_select(0, pick), g.index_select(0, pick)


def _sample_edits(
    layout: GraphLayout,
    pairs: _Pairs,
    k_drop: Tensor | None,
    wanted: Tensor | None,
    generator: torch.Generator | None,
) -> tuple[Tensor | None, tuple[Tensor, Tensor, Tensor, Tensor] | None]:
    """Pairs to drop and new pairs to add, per graph, drawn in shared rejection rounds.

    **Drop** (``k_drop`` given): ``k_drop[g]`` uniformly chosen distinct pairs of graph
    ``g`` (:class:`SubsetFamily` over the pairs); returns the ``[E]`` bool mask of their
    edge columns.

    **Add** (``wanted`` given): graph ``g`` gets ``k_g = min(wanted[g], F_g)`` pairs
    ``(a, b)``, ``a != b``, that are not among ``pairs`` (unordered if undirected),
    ``F_g = T_g - proper_g`` free pairs of the ``T_g = n (n - 1) / 2`` (or ``n (n - 1)``)
    proper pairs. Where free pairs are plentiful (``2 k_g <= F_g`` and ``2 F_g >= T_g``),
    by sequential rejection (:class:`_NonEdgeFamily`: i.i.d. uniform proper pairs, kept if
    neither an edge nor already kept; a draw is rejected with probability at most 3/4).
    Elsewhere every free pair is listed (at most ``2 k_g + 2 m_g`` of them) and a uniform
    ``k_g``-subset kept. Returns ``(a, b, graph, added)``: global node ids ``[K]`` (``a <
    b`` if undirected), their graph ``[K]``, grouped by graph, and ``added`` ``[B]``.
    ``pairs.line`` records the pairs added.
    """
    families: list[RejectionFamily] = []
    parts: list[tuple[Tensor, Tensor, Tensor]] = []
    if k_drop is not None:
        drops = SubsetFamily(pairs.counts, k_drop)
        families.append(drops)
    if wanted is not None:
        n, line = layout.node_counts, pairs.line
        total = (n * (n - 1)) >> 1 if line.undirected else n * (n - 1)
        free = total - pairs.proper
        k = torch.minimum(wanted, free)
        sparse = (2 * k <= free) & (2 * free >= total)
        listed = (k > 0) & ~sparse
        if bool(listed.any()):
            parts.append(_listed_non_edges(layout, line, listed, k, generator))
        families.append(_NonEdgeFamily(layout, line, torch.where(sparse, k, 0), total, free - k))
    found = rejection_rounds(families, generator)
    drop = None
    if k_drop is not None:
        drop = drops.mask().index_select(0, pairs.pair)
    if wanted is None:
        return drop, None
    parts += [(a, b, g) for g, a, b in found[-1]]
    if not parts:
        empty = layout.batch.new_zeros(0)
        return drop, (empty, empty, empty, torch.zeros_like(wanted))
    if len(parts) == 1:
        a, b, g = parts[0]
    else:
        a, b, g = (torch.cat(t) for t in zip(*parts))
        order = torch.argsort(g, stable=True)
        a, b, g = a[order], b[order], g[order]
    return drop, (a, b, g, torch.bincount(g, minlength=layout.num_graphs))


def _fill_rows(value: Fill, like: Tensor, rows: int) -> Tensor:
    fill = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    try:
        return fill.expand(rows, *like.shape[1:]).clone()
    except RuntimeError as err:
        raise ValueError(
            f"fill of shape {tuple(fill.shape)} does not broadcast to edge attribute rows "
            f"of shape {tuple(like.shape[1:])}"
        ) from err


def _pick_in_range(
    start: Tensor, size: Tensor, generator: torch.Generator | None
) -> Tensor:
    """A uniform index in ``[start, start + size)`` per entry (``size > 0``)."""
    u = _rand(start.numel(), start.device, generator, torch.float64).view(start.shape)
    return uniform_index(u, size).add_(start)


def _edge_of_graph(
    layout: GraphLayout, graph: Tensor, generator: torch.Generator | None
) -> Tensor:
    """A uniformly chosen edge column of graph ``graph[i]`` for every ``i``."""
    start = layout.edge_ptr.index_select(0, graph)
    return _pick_in_range(start, layout.edge_ptr.index_select(0, graph + 1) - start, generator)


def _new_edge_attrs(
    value: Tensor,
    layout: GraphLayout,
    new_graph: Tensor,
    fill: Fill,
    generator: torch.Generator | None,
) -> Tensor:
    """Attribute rows for new pairs of ``new_graph`` (one row per pair), for a ``fill`` other
    than ``None`` (which :func:`_with_new_edges` gathers with the kept rows)."""
    rows = new_graph.numel()
    if rows == 0:
        return value.new_zeros((0, *value.shape[1:]))
    if isinstance(fill, str):  # "marginal": every column from its own random edge of the batch
        cols = int(torch.tensor(value.shape[1:]).prod()) if value.dim() > 1 else 1
        flat = value.reshape(value.size(0), cols)
        total = torch.full((rows, cols), value.size(0), dtype=torch.long, device=value.device)
        pick = _pick_in_range(torch.zeros_like(total), total, generator)
        return flat.gather(0, pick).view(rows, *value.shape[1:])
    return _fill_rows(fill, value, rows)


def _with_new_edges(
    data: Data,
    layout: GraphLayout,
    drop_edges: Tensor | None,
    new_a: Tensor,
    new_b: Tensor,
    new_graph: Tensor,
    added: Tensor,
    undirected: bool,
    fill: Fill,
    generator: torch.Generator | None,
) -> Data:
    """Kept edge columns (not ``drop_edges``) followed, inside every graph, by the new edges.

    Graph ``g``'s output columns are its kept columns (input order), then its new edges
    (``(a, b)`` then ``(b, a)`` for a pair if ``undirected``): the ``j``-th kept column
    overall goes to ``j + new_ptr[g]``, the ``t``-th new edge to ``t + kept_ptr[g + 1]``.
    One gather per edge-level tensor and a few scatters, no sort.
    """
    ei = data.edge_index
    device = ei.device
    num_edges = ei.size(1)
    per_pair = 2 if undirected else 1
    if drop_edges is None:
        kept_before = torch.arange(num_edges + 1, device=device)
    else:
        kept_before = _ptr_from_counts(~drop_edges)  # kept columns before column e
    kept_ptr = kept_before.index_select(0, layout.edge_ptr)
    new_ptr = _ptr_from_counts(added * per_pair)
    out_ptr = kept_ptr + new_ptr
    total = int(out_ptr[-1])
    # source column of every output column. A dropped column lands where the next kept
    # column of the batch does (or on a new edge's column, rewritten below, or on the spare
    # last slot): keeping the largest column index per slot keeps the kept column.
    pos = new_ptr.index_select(0, layout.edge_graph).add_(kept_before[:-1])
    source = torch.zeros(total + 1, dtype=torch.long, device=device)
    source.scatter_reduce_(0, pos, torch.arange(num_edges, device=device), "amax")
    source = source[:total]
    # output column of the first edge of every new pair
    pos_new = torch.arange(0, per_pair * new_graph.numel(), per_pair, device=device)
    pos_new += kept_ptr.index_select(0, new_graph + 1)
    new_ei = ei.gather(1, source.expand(2, -1))
    new_ei[0].scatter_(0, pos_new, new_a)
    new_ei[1].scatter_(0, pos_new, new_b)
    if undirected:
        pos_back = pos_new + 1
        new_ei[0].scatter_(0, pos_back, new_b)
        new_ei[1].scatter_(0, pos_back, new_a)
    # one attribute row per new pair; both directions of an undirected pair share it
    edge_values = {}
    for i, key in enumerate(layout.edge_keys):
        value = data[key]
        if fill is None:  # gather the copied rows along with the kept ones
            pick = _edge_of_graph(layout, new_graph, generator)
            src = source if i == len(layout.edge_keys) - 1 else source.clone()
            src.scatter_(0, pos_new, pick)
            if undirected:
                src.scatter_(0, pos_back, pick)
            edge_values[key] = value.index_select(0, src)
            continue
        rows = _new_edge_attrs(value, layout, new_graph, fill, generator)
        out = value.index_select(0, source)
        out.index_copy_(0, pos_new, rows)
        if undirected:
            out.index_copy_(0, pos_back, rows)
        edge_values[key] = out
    return _rebuild(
        data, layout, edge_index=new_ei, edge_values=edge_values, edge_ptr=out_ptr
    )


def _check_ratio(
    name: str, value: float, high: float | None = 1.0, closed: bool = True
) -> None:
    if high is None:
        if not value >= 0.0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        return
    if not (0.0 <= value <= high if closed else 0.0 <= value < high):
        raise ValueError(f"{name} must be in [0, {high:g}{']' if closed else ')'}, got {value}")


def _check_fill(fill: Fill) -> None:
    if isinstance(fill, str) and fill != "marginal":
        raise ValueError(f"fill must be None, 'marginal' or a value, got {fill!r}")


def _maybe_counts(
    out: Data, counts: dict[str, Tensor], return_counts: bool
) -> Data | tuple[Data, dict[str, Tensor]]:
    return (out, counts) if return_counts else out


# ---------------------------------------------------------------------------------------
# Public views
# ---------------------------------------------------------------------------------------


def edge_drop(
    data: Data,
    p: float,
    *,
    undirected: bool = True,
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """Remove exactly ``floor(p * m_g)`` uniformly chosen edges of every graph ``g``.

    ``m_g`` is the number of distinct edges of graph ``g`` (unordered pairs if
    ``undirected``: both directions go together). The kept edge columns stay in their input
    order with their attributes. This is GraphCL's edge removal with an exact per-graph
    count, not a per-edge coin (for that, see :func:`gcl.views.functional.drop_edge`).

    Args:
        data: a ``Data`` or ``Batch``.
        p: fraction of edges to drop, in [0, 1].
        undirected: treat ``{u, v}`` as one edge.
        generator: source of randomness.
        return_counts: also return ``{"dropped": [B]}`` edges dropped per graph.

    Returns:
        The view (and the counts).
    """
    _check_ratio("p", p)
    layout = graph_layout(data)
    ei = data.edge_index
    pairs = _edge_pairs(layout, ei, undirected)
    k = _floor_count(p, pairs.counts)
    drop, _ = _sample_edits(layout, pairs, k, None, generator)
    ids = (~drop).nonzero().view(-1)
    out = _rebuild(
        data,
        layout,
        edge_index=ei.index_select(1, ids),
        edge_values={key: data[key].index_select(0, ids) for key in layout.edge_keys},
    )
    return _maybe_counts(out, {"dropped": k}, return_counts)


def edge_add(
    data: Data,
    p: float,
    *,
    undirected: bool = True,
    fill: Fill = None,
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """Add ``floor(p * m_g)`` new edges between uniformly chosen node pairs of every graph.

    New pairs are distinct, join two different nodes of the **same** graph and are not
    already edges; if graph ``g`` has fewer free pairs than asked, it gets them all
    (``added`` tells). Undirected pairs are added in both directions. New edges come after
    the existing edges of their graph.

    Args:
        data: a ``Data`` or ``Batch``.
        p: number of new edges as a fraction of ``m_g`` (>= 0; may exceed 1).
        undirected: add ``{a, b}`` as two directed edges and never duplicate a pair.
        fill: edge-level attributes of new edges (both directions of a pair get the same).
            ``None``: the attributes of a uniformly chosen existing edge of the same graph;
            ``"marginal"``: every attribute column drawn independently from the batch's
            edges (the batch's per-feature marginals, as D-SLA/GraphCL-style samplers use
            the corpus's); otherwise a value broadcast to each edge attribute's row shape
            (e.g. an "unknown bond" index).
        generator: source of randomness.
        return_counts: also return ``{"added": [B]}`` edges (pairs) added per graph.
    """
    _check_ratio("p", p, high=None)
    _check_fill(fill)
    layout = graph_layout(data)
    pairs = _edge_pairs(layout, data.edge_index, undirected)
    wanted = _floor_count(p, pairs.counts)
    _, (a, b, g, added) = _sample_edits(layout, pairs, None, wanted, generator)
    out = _with_new_edges(data, layout, None, a, b, g, added, undirected, fill, generator)
    return _maybe_counts(out, {"added": added}, return_counts)


def edge_perturb(
    data: Data,
    p: float,
    *,
    add_p: float | None = None,
    undirected: bool = True,
    fill: Fill = None,
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """GraphCL edge perturbation: drop ``floor(p * m_g)`` edges and add as many new ones.

    Per graph ``g``: remove ``floor(p * m_g)`` uniformly chosen edges (as
    :func:`edge_drop`) and add ``floor(add_p * m_g)`` (default: the same number as
    removed) uniformly chosen pairs of distinct nodes of ``g`` that are not adjacent in the
    **input** graph (so a removed edge is never put back), symmetrically if ``undirected``.
    Unlike the official chem code (directed additions, no edge attributes, possible
    self-loops and duplicates), added edges are symmetric, distinct and get attributes as
    in :func:`edge_add`, whose ``fill`` they take.

    Returns:
        The view (and ``{"dropped": [B], "added": [B]}`` with ``return_counts``).
    """
    _check_ratio("p", p)
    if add_p is not None:
        _check_ratio("add_p", add_p, high=None)
    _check_fill(fill)
    layout = graph_layout(data)
    ei = data.edge_index
    pairs = _edge_pairs(layout, ei, undirected)
    k_drop = _floor_count(p, pairs.counts)
    wanted = k_drop if add_p is None else _floor_count(add_p, pairs.counts)
    drop, (a, b, g, added) = _sample_edits(layout, pairs, k_drop, wanted, generator)
    out = _with_new_edges(data, layout, drop, a, b, g, added, undirected, fill, generator)
    return _maybe_counts(out, {"dropped": k_drop, "added": added}, return_counts)


def node_drop(
    data: Data,
    p: float,
    *,
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """GraphCL node dropping: remove ``floor(p * n_g)`` uniformly chosen nodes per graph.

    Dropped nodes take their incident edges with them; the rest are relabelled in their
    input order. As ``p < 1``, every non-empty graph keeps at least one node, and the
    number of graphs never changes.

    Args:
        data: a ``Data`` or ``Batch``.
        p: fraction of nodes to drop, in [0, 1).
        return_counts: also return ``{"dropped": [B]}`` nodes dropped per graph.
    """
    _check_ratio("p", p, closed=False)
    layout = graph_layout(data)
    keep, k = node_drop_keep(layout, p, generator=generator)
    return _maybe_counts(_induced(data, layout, keep), {"dropped": k}, return_counts)


def node_drop_keep(
    layout: GraphLayout, p: float, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """The node mask of :func:`node_drop`: ``([N] bool kept, [B] dropped per graph)``.

    The ``floor(p * n_g)`` nodes of smallest uniform key in every graph are dropped.
    """
    k = _floor_count(p, layout.node_counts)
    rank = segment_rank(
        layout.batch, layout.num_graphs, _rand(layout.num_nodes, layout.batch.device, generator)
    )
    return rank >= k[layout.batch], k


def induced_subgraph(data: Data, keep: Tensor, layout: GraphLayout | None = None) -> Data:
    """The subgraph of ``data`` induced by the nodes with ``keep[i]`` (``[N]`` bool):
    nodes relabelled in input order, node- and edge-level attributes following, graph-level
    ones and the number of graphs unchanged (a graph may become empty)."""
    layout = graph_layout(data) if layout is None else layout
    if keep.shape != (layout.num_nodes,) or keep.dtype != torch.bool:
        raise ValueError(f"keep must be a [{layout.num_nodes}] bool mask, got {keep.dtype} {tuple(keep.shape)}")
    return _induced(data, layout, keep)


def feature_mask(
    data: Data,
    p: float,
    *,
    value: Fill = None,
    mean: float = 0.5,
    std: float = 0.5,
    key: str = "x",
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """GraphCL attribute masking: replace the features of ``floor(p * n_g)`` nodes per graph.

    The rows of uniformly chosen nodes are replaced by ``value`` (a scalar or a row, e.g.
    a categorical mask token such as ``[119, 0, ...]`` for molecules) or, when ``value`` is
    ``None``, by Gaussian noise ``N(mean, std^2)`` per entry (GraphCL's TU code:
    ``N(0.5, 0.5^2)``). Integer (categorical) features need a ``value``. Structure is
    untouched. (:func:`gcl.views.functional.mask_feature` is GRACE's column masking.)

    Args:
        data: a ``Data`` or ``Batch`` with ``data[key]`` of shape ``[N, F]``.
        p: fraction of nodes to mask, in [0, 1].
        key: the node attribute to mask.
        return_counts: also return ``{"masked": [B]}`` nodes masked per graph.

    Raises:
        ValueError: bad ``p``, missing ``key``, integer features without ``value``.
    """
    _check_ratio("p", p)
    x = getattr(data, key, None)
    if not isinstance(x, Tensor):
        raise ValueError(f"data has no node attribute {key!r} to mask")
    if isinstance(value, str):
        raise ValueError(f"value must be None, a scalar or a row, got {value!r}")
    if value is None and not torch.is_floating_point(x):
        raise ValueError(
            f"data.{key} is {x.dtype} (categorical): pass value= (a mask token) instead of noise"
        )
    layout = graph_layout(data)
    if x.size(0) != layout.num_nodes:
        raise ValueError(
            f"data.{key} has {x.size(0)} rows, expected one per node ({layout.num_nodes})"
        )
    device = x.device
    k = _floor_count(p, layout.node_counts)
    rank = segment_rank(layout.batch, layout.num_graphs, _rand(layout.num_nodes, device, generator))
    rows = (rank < k[layout.batch]).nonzero().view(-1)
    out_x = x.clone()
    if value is None:
        gen_device = generator.device if generator is not None else device
        noise = torch.randn(
            (rows.numel(), *x.shape[1:]), generator=generator, device=gen_device, dtype=x.dtype
        ).to(device)
        out_x[rows] = noise * std + mean
    else:
        out_x[rows] = _fill_rows(value, x, rows.numel())
    out = _rebuild(
        data,
        layout,
        edge_index=data.edge_index,
        edge_values={k_: data[k_] for k_ in layout.edge_keys},
        node_values={key: out_x},
    )
    return _maybe_counts(out, {"masked": k}, return_counts)


__all__ = [
    "GraphLayout",
    "edge_add",
    "edge_drop",
    "edge_perturb",
    "feature_mask",
    "graph_layout",
    "induced_subgraph",
    "merge_graph_views",
    "node_drop",
    "node_drop_keep",
    "segment_rank",
    "select_graphs",
]
