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
batch's per-column marginals (``fill="marginal"``) or a given ``fill`` value. A key is node-level if its first dimension has one row per node,
edge-level if its name contains ``"edge"`` and it has one row per edge (on a ``Batch``, the
per-graph slices recorded by ``from_data_list`` decide, so graph-level ``y`` is never mistaken
for a node or edge attribute).

**Output.** A new object of the input's class: the input is never modified. On a batch,
``batch``, ``ptr``, ``num_nodes`` and the per-graph slices are updated, so
``out.to_data_list()`` returns valid graphs (every edge inside its own graph's node range).

**Randomness** comes only from ``generator`` (``None``: torch's global generator): the same
generator state gives the same view. Every function can also return the per-graph counts it
actually applied (``return_counts=True``).

**Vectorised.** No Python loop over graphs, nodes or edges: a uniform choice of ``k_g`` of
the ``n_g`` elements of every graph is a *segment rank* (random keys, sort by key, then a
stable sort by graph, rank = position - first position of the graph; keep ``rank < k_g``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor
from torch_geometric.data import Data

#: Attributes of added edges: ``None`` (copy a random edge of the same graph), ``"marginal"``
#: (each column from its own random edge of the batch), or a scalar / tensor broadcast to a
#: row. For node features (:func:`feature_mask`): a scalar or a row.
Fill = Union[float, int, Tensor, str, None]

_SKIP_KEYS = {"edge_index", "batch", "ptr", "num_nodes"}

# Below this many candidate non-edges a graph's new edges are drawn by enumerating all of
# them; above it, by rejection sampling (see _sample_distinct).
_DENSE_SLACK = 64


# ---------------------------------------------------------------------------------------
# Randomness and segment helpers
# ---------------------------------------------------------------------------------------


def _rand(
    n: int,
    device: torch.device,
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``n`` uniform [0, 1) numbers on ``device``, drawn on the generator's own device."""
    dev = generator.device if generator is not None else device
    return torch.rand(n, generator=generator, device=dev, dtype=dtype).to(device)


def _floor_count(ratio: float, sizes: Tensor) -> Tensor:
    """``floor(ratio * sizes)`` in float64, equal to Python's ``int(ratio * size)``."""
    return torch.floor(sizes.to(torch.float64) * ratio).to(torch.long)


def _ptr_from_counts(counts: Tensor) -> Tensor:
    ptr = counts.new_zeros(counts.numel() + 1)
    torch.cumsum(counts, 0, out=ptr[1:])
    return ptr


def segment_rank(group: Tensor, num_groups: int, keys: Tensor) -> Tensor:
    """Rank of every element among the elements of its group, in increasing ``keys``.

    With uniform random ``keys`` the ranks of each group are a uniform random permutation,
    so ``rank < k[group]`` picks ``k[g]`` elements of group ``g`` uniformly without
    replacement. Give ineligible elements a key above every other (e.g. 2.0) to rank them
    last.

    Args:
        group: ``[M]`` long, the group of every element, in ``[0, num_groups)``.
        num_groups: number of groups ``G``.
        keys: ``[M]`` float sort keys.

    Returns:
        ``[M]`` long: ``rank[i] = #{j : group[j] = group[i], (keys[j], j) < (keys[i], i)}``.
    """
    m = group.numel()
    if m == 0:
        return group.new_zeros(0)
    order = torch.argsort(keys, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    counts = torch.bincount(group, minlength=num_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(group)
    rank[order] = torch.arange(m, device=group.device) - starts[group[order]]
    return rank


def _sample_distinct(
    sizes: Tensor, counts: Tensor, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Draw ``counts[g]`` distinct integers uniformly from ``[0, sizes[g])`` for every group.

    Groups with few candidates (``sizes <= 4 * counts + 64``) enumerate them all and keep a
    segment-rank choice. The others draw with replacement (float64 uniforms), drop
    duplicates, keep a random ``counts[g]``-subset of what they have, and draw again for
    the groups still short; the process is symmetric in the candidates, so the result is
    a uniform ``counts[g]``-subset. Needs ``counts <= sizes``.

    Returns:
        ``(group, value)``, both ``[sum(counts)]`` long.
    """
    device = sizes.device
    num_groups = sizes.numel()
    groups = torch.arange(num_groups, device=device)
    out_g: list[Tensor] = []
    out_v: list[Tensor] = []
    dense = (counts > 0) & (sizes <= 4 * counts + _DENSE_SLACK)
    sparse = (counts > 0) & ~dense
    if bool(dense.any()):
        dsizes = torch.where(dense, sizes, torch.zeros_like(sizes))
        g = torch.repeat_interleave(groups, dsizes)
        starts = torch.cumsum(dsizes, 0) - dsizes
        v = torch.arange(g.numel(), device=device) - starts[g]
        rank = segment_rank(g, num_groups, _rand(g.numel(), device, generator))
        pick = rank < counts[g]
        out_g.append(g[pick])
        out_v.append(v[pick])
    if bool(sparse.any()):
        ptr = _ptr_from_counts(sizes)
        chosen = sizes.new_zeros(0)
        chosen_g = sizes.new_zeros(0)
        while True:
            have = torch.bincount(chosen_g, minlength=num_groups)
            need = torch.where(sparse, counts - have, torch.zeros_like(counts))
            if not bool((need > 0).any()):
                break
            draws = torch.where(need > 0, 2 * need + 8, torch.zeros_like(need))
            g = torch.repeat_interleave(groups, draws)
            u = _rand(g.numel(), device, generator, torch.float64)
            v = torch.minimum((u * sizes[g].to(torch.float64)).to(torch.long), sizes[g] - 1)
            cand = torch.unique(torch.cat([chosen, ptr[g] + v]))
            cand_g = torch.searchsorted(ptr, cand, right=True) - 1
            rank = segment_rank(cand_g, num_groups, _rand(cand.numel(), device, generator))
            pick = rank < counts[cand_g]
            chosen, chosen_g = cand[pick], cand_g[pick]
        out_g.append(chosen_g)
        out_v.append(chosen - ptr[chosen_g])
    if not out_g:
        empty = sizes.new_zeros(0)
        return empty, empty
    return torch.cat(out_g), torch.cat(out_v)


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
    edge_graph = batch[edge_index[0]]
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
) -> Data:
    """A shallow copy of ``data`` with new nodes/edges, batch bookkeeping fixed up.

    ``node_index`` gathers every node-level attribute (``None``: nodes unchanged);
    ``node_values`` replaces single node-level attributes; ``batch`` is the new graph of
    every node (required when ``node_index`` is given). Edges must be grouped by graph.
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
# Edge pairs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pairs:
    inverse: Tensor  # [E] pair of every edge column
    lo: Tensor  # [P] first node of every distinct pair (lo <= hi if undirected)
    hi: Tensor  # [P]
    graph: Tensor  # [P]
    counts: Tensor  # [B] distinct pairs per graph (m_g)


def _edge_pairs(layout: GraphLayout, edge_index: Tensor, undirected: bool) -> _Pairs:
    src, dst = edge_index[0], edge_index[1]
    if undirected:
        src, dst = torch.minimum(src, dst), torch.maximum(src, dst)
    n = max(layout.num_nodes, 1)
    uniq, inverse = torch.unique(src * n + dst, return_inverse=True)
    lo, hi = uniq // n, uniq % n
    graph = layout.batch[lo]
    counts = torch.bincount(graph, minlength=layout.num_graphs)
    return _Pairs(inverse, lo, hi, graph, counts)


def _sample_non_edges(
    layout: GraphLayout,
    pairs: _Pairs,
    wanted: Tensor,
    undirected: bool,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Uniformly chosen distinct new node pairs inside every graph.

    Graph ``g`` gets ``min(wanted[g], available_g)`` pairs ``(a, b)``, ``a != b``, that are
    not among ``pairs`` (unordered if ``undirected``). All candidate pairs of all graphs are
    laid out on one line (graph-major; unordered pair ``a < b`` of a graph at
    ``b (b - 1) / 2 + a``, ordered pair at ``a (n - 1) + b - [b > a]``); the ``r``-th
    non-edge of that line is ``r + #{i : e_i - i <= r}`` for the sorted existing positions
    ``e_i``, so ranks drawn by :func:`_sample_distinct` map straight to pairs.

    Returns:
        ``(a, b, graph, added)``: global node ids ``[K]`` (``a < b`` if undirected), their
        graph ``[K]``, grouped by graph, and ``added`` ``[B]`` pairs per graph.
    """
    device = layout.batch.device
    n = layout.node_counts
    total = n * (n - 1) // 2 if undirected else n * (n - 1)
    pair_ptr = _ptr_from_counts(total)
    proper = pairs.lo != pairs.hi
    g = pairs.graph[proper]
    a = pairs.lo[proper] - layout.ptr[g]
    b = pairs.hi[proper] - layout.ptr[g]
    if undirected:
        local = b * (b - 1) // 2 + a
    else:
        local = a * (n[g] - 1) + b - (b > a).long()
    existing = torch.sort(pair_ptr[g] + local).values
    free = total - torch.bincount(g, minlength=layout.num_graphs)
    k = torch.minimum(wanted, free)
    group, r = _sample_distinct(free, k, generator)
    rank = _ptr_from_counts(free)[group] + r
    shifted = existing - torch.arange(existing.numel(), device=device)
    pos = rank + torch.searchsorted(shifted, rank, right=True)
    local = pos - pair_ptr[group]
    if undirected:
        hi = torch.floor((1.0 + torch.sqrt(1.0 + 8.0 * local.to(torch.float64))) / 2.0).long()
        hi = hi - (hi * (hi - 1) // 2 > local).long()
        hi = hi + ((hi + 1) * hi // 2 <= local).long()
        lo = local - hi * (hi - 1) // 2
        a_new, b_new = lo, hi
    else:
        ng = n[group] - 1
        a_new = local // ng.clamp(min=1)
        rest = local - a_new * ng
        b_new = rest + (rest >= a_new).long()
    offset = layout.ptr[group]
    order = torch.argsort(group, stable=True)
    return (
        (a_new + offset)[order],
        (b_new + offset)[order],
        group[order],
        torch.bincount(group, minlength=layout.num_graphs),
    )


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
    return start + torch.minimum((u * size.to(torch.float64)).long(), (size - 1).clamp(min=0))


def _new_edge_attrs(
    value: Tensor,
    layout: GraphLayout,
    new_graph: Tensor,
    fill: Fill,
    generator: torch.Generator | None,
) -> Tensor:
    """Attribute rows for new pairs of ``new_graph`` (one row per pair)."""
    rows = new_graph.numel()
    if rows == 0:
        return value.new_zeros((0, *value.shape[1:]))
    if fill is None:  # the whole row of a uniformly chosen edge of the same graph
        pick = _pick_in_range(layout.edge_ptr[new_graph], layout.edge_counts[new_graph], generator)
        return value.index_select(0, pick)
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
    keep_edges: Tensor | None,
    new_a: Tensor,
    new_b: Tensor,
    new_graph: Tensor,
    undirected: bool,
    fill: Fill,
    generator: torch.Generator | None,
) -> Data:
    """Kept edge columns followed, inside every graph, by the new pairs' edges."""
    ei = data.edge_index
    device = ei.device
    kept = (
        torch.arange(ei.size(1), device=device)
        if keep_edges is None
        else keep_edges.nonzero().view(-1)
    )
    # one attribute row per new pair; both directions of an undirected pair share it
    added = {
        key: _new_edge_attrs(data[key], layout, new_graph, fill, generator)
        for key in layout.edge_keys
    }
    if undirected:
        src_new = torch.stack([new_a, new_b], 1).view(-1)
        dst_new = torch.stack([new_b, new_a], 1).view(-1)
        graph_new = new_graph.repeat_interleave(2)
        added = {key: rows.repeat_interleave(2, dim=0) for key, rows in added.items()}
    else:
        src_new, dst_new, graph_new = new_a, new_b, new_graph
    new_ei = torch.cat([ei.index_select(1, kept), torch.stack([src_new, dst_new])], 1)
    order = None
    if layout.batched and graph_new.numel() > 0:
        order = torch.argsort(torch.cat([layout.edge_graph[kept], graph_new]), stable=True)
        new_ei = new_ei.index_select(1, order)
    edge_values = {}
    for key in layout.edge_keys:
        merged = torch.cat([data[key].index_select(0, kept), added[key]], 0)
        edge_values[key] = merged if order is None else merged.index_select(0, order)
    return _rebuild(data, layout, edge_index=new_ei, edge_values=edge_values)


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
    rank = segment_rank(
        pairs.graph, layout.num_graphs, _rand(pairs.lo.numel(), ei.device, generator)
    )
    keep_pair = rank >= k[pairs.graph]
    keep = keep_pair[pairs.inverse]
    ids = keep.nonzero().view(-1)
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
    a, b, g, added = _sample_non_edges(layout, pairs, wanted, undirected, generator)
    out = _with_new_edges(data, layout, None, a, b, g, undirected, fill, generator)
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
    rank = segment_rank(
        pairs.graph, layout.num_graphs, _rand(pairs.lo.numel(), ei.device, generator)
    )
    keep = (rank >= k_drop[pairs.graph])[pairs.inverse]
    a, b, g, added = _sample_non_edges(layout, pairs, wanted, undirected, generator)
    out = _with_new_edges(data, layout, keep, a, b, g, undirected, fill, generator)
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
    k = _floor_count(p, layout.node_counts)
    rank = segment_rank(
        layout.batch, layout.num_graphs, _rand(layout.num_nodes, layout.batch.device, generator)
    )
    keep = rank >= k[layout.batch]
    return _maybe_counts(_induced(data, layout, keep), {"dropped": k}, return_counts)


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
    "merge_graph_views",
    "node_drop",
    "segment_rank",
    "select_graphs",
]
