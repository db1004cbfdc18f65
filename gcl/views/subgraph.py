"""Subgraph views on a PyG ``Data`` or ``Batch``: random-walk, k-hop and GraphCL's
frontier-growth subgraph, one per graph, each keeping the induced edges.

All three pick one start (seed) node per non-empty graph, uniformly, grow a node set inside
that graph only, and return the subgraph induced by it (nodes relabelled in input order,
node- and edge-level attributes following, ``batch``/``ptr``/slices updated; see
:mod:`gcl.views.graph` for the conventions). Neighbours are out-neighbours
(``edge_index[0] -> edge_index[1]``), i.e. the usual neighbours on symmetric graphs.

The loops below run over walk steps or hops (at most the largest per-graph target), never
over graphs, nodes or edges: every step moves all graphs at once with gathers and scatters.
Empty graphs stay empty; every non-empty graph keeps at least its seed.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

from gcl.views.graph import (
    GraphLayout,
    _check_ratio,
    _floor_count,
    _induced,
    _maybe_counts,
    _ptr_from_counts,
    _rand,
    graph_layout,
)
from gcl.views._segments import segment_rank


def _targets(layout: GraphLayout, keep_ratio: float, extra_nodes: int) -> Tensor:
    """``clamp(floor(keep_ratio * n_g) + extra_nodes, 1, n_g)`` (0 for empty graphs)."""
    n = layout.node_counts
    t = _floor_count(keep_ratio, n) + extra_nodes
    return torch.minimum(t.clamp(min=1), n)


def _start_nodes(layout: GraphLayout, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """A uniform node of every graph (global id) and the mask of non-empty graphs."""
    n = layout.node_counts
    u = _rand(layout.num_graphs, layout.batch.device, generator, torch.float64)
    local = torch.minimum((u * n.to(torch.float64)).long(), (n - 1).clamp(min=0))
    return layout.ptr[:-1] + local, n > 0


def _reachable(
    layout: GraphLayout, src: Tensor, dst: Tensor, seeds: Tensor, hops: int | None = None
) -> Tensor:
    """``[N]`` bool: nodes reached from ``seeds`` by at most ``hops`` edges (all if ``None``).

    One scatter over the edges per hop; stops early once nothing new is reached.
    """
    reached = torch.zeros(layout.num_nodes, dtype=torch.bool, device=layout.batch.device)
    reached[seeds] = True
    hop = 0
    while hops is None or hop < hops:
        nxt = reached.clone()
        nxt[dst[reached[src]]] = True
        if torch.equal(nxt, reached):
            break
        reached = nxt
        hop += 1
    return reached


def _check_subgraph_args(keep_ratio: float, extra_nodes: int) -> None:
    _check_ratio("keep_ratio", keep_ratio)
    if int(extra_nodes) != extra_nodes or extra_nodes < 0:
        raise ValueError(f"extra_nodes must be a non-negative integer, got {extra_nodes}")


def random_walk_subgraph(
    data: Data,
    keep_ratio: float = 0.2,
    *,
    extra_nodes: int = 0,
    max_steps: int | None = None,
    restart: float = 0.0,
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """Keep the nodes visited by one random walk per graph, and their induced edges.

    Graph ``g`` (``n_g`` nodes) targets ``t_g = clamp(floor(keep_ratio * n_g) +
    extra_nodes, 1, n_g)`` nodes. Its walker starts at a uniform node and, at every step,
    moves to a uniformly chosen out-neighbour of its current node (with probability
    ``restart`` it jumps back to its start instead); the walk of ``g`` stops as soon as it
    has visited ``min(t_g, r_g)`` distinct nodes, ``r_g`` being the number of nodes its
    start can reach (so a start in a small component keeps that component). A walker on a
    node without out-neighbours stops there. After ``max_steps`` steps every walk stops, so
    a graph slow to explore (or, on a directed graph, a walker trapped in a small sink) may
    keep fewer nodes: the ``kept`` counts say how many.

    Args:
        data: a ``Data`` or ``Batch``.
        keep_ratio: fraction of each graph's nodes to keep, in [0, 1].
        extra_nodes: added to every target (GraphCL's transfer code keeps
            ``int(0.2 n) + 1``: ``keep_ratio=0.2, extra_nodes=1``).
        max_steps: walk length limit (default ``100 * max_g t_g + 100``).
        restart: restart probability per step, in [0, 1).
        generator: source of randomness.
        return_counts: also return ``{"kept": [B]}`` nodes kept per graph.
    """
    _check_subgraph_args(keep_ratio, extra_nodes)
    _check_ratio("restart", restart, closed=False)
    if max_steps is not None and max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    layout = graph_layout(data)
    device = layout.batch.device
    target = _targets(layout, keep_ratio, extra_nodes)
    start, nonempty = _start_nodes(layout, generator)
    src, dst = data.edge_index[0], data.edge_index[1]
    # a walk can only visit what its start reaches: cap the targets so that walks stuck in
    # a small component stop at once instead of running to the step limit
    reach = _reachable(layout, src, dst, start[nonempty])
    target = torch.minimum(target, torch.bincount(layout.batch[reach], minlength=layout.num_graphs))
    if max_steps is None:
        steps = 100 * int(target.max()) + 100 if layout.num_graphs else 0
    else:
        steps = int(max_steps)

    order = torch.argsort(src, stable=True)
    nbr = dst[order]
    rowptr = _ptr_from_counts(torch.bincount(src, minlength=layout.num_nodes))
    deg = torch.cat([rowptr[1:] - rowptr[:-1], rowptr.new_zeros(1)])  # deg[N] = 0 (no node)

    visited = torch.zeros(layout.num_nodes, dtype=torch.bool, device=device)
    visited[start[nonempty]] = True
    count = nonempty.long()
    cur = torch.where(nonempty, start, torch.full_like(start, layout.num_nodes))
    active = nonempty & (count < target) & (deg[cur] > 0)
    for _ in range(steps):
        if not bool(active.any()):
            break
        d = deg[cur]
        u = _rand(layout.num_graphs, device, generator, torch.float64)
        step = torch.minimum((u * d.to(torch.float64)).long(), (d - 1).clamp(min=0))
        pick = (rowptr[cur] + step).clamp(max=nbr.numel() - 1)
        nxt = torch.where(d > 0, nbr[pick], cur)
        if restart > 0.0:
            jump = _rand(layout.num_graphs, device, generator) < restart
            nxt = torch.where(jump & nonempty, start, nxt)
        cur = torch.where(active, nxt, cur)
        new = active & ~visited[cur.clamp(max=layout.num_nodes - 1)]
        visited[cur[new]] = True
        count = count + new.long()
        active = active & (count < target) & (deg[cur] > 0)
    return _maybe_counts(_induced(data, layout, visited), {"kept": count}, return_counts)


def khop_subgraph(
    data: Data,
    num_hops: int = 2,
    *,
    seeds: Tensor | None = None,
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """Keep the nodes within ``num_hops`` hops of one seed node per graph.

    The kept set of graph ``g`` is its seed plus every node reached from it by at most
    ``num_hops`` edges (``edge_index[0] -> edge_index[1]``); edges between kept nodes are
    kept.

    Args:
        data: a ``Data`` or ``Batch``.
        num_hops: ``k >= 0``.
        seeds: ``[B]`` long global node ids, one inside each non-empty graph (entries of
            empty graphs are ignored); default: a uniform node of every graph.
        generator: source of randomness (seeds only).
        return_counts: also return ``{"kept": [B]}`` nodes kept per graph.
    """
    if int(num_hops) != num_hops or num_hops < 0:
        raise ValueError(f"num_hops must be a non-negative integer, got {num_hops}")
    layout = graph_layout(data)
    device = layout.batch.device
    if seeds is None:
        seeds, nonempty = _start_nodes(layout, generator)
    else:
        seeds = torch.as_tensor(seeds, dtype=torch.long, device=device).view(-1)
        if seeds.numel() != layout.num_graphs:
            raise ValueError(
                f"seeds must hold one node per graph ({layout.num_graphs}), got {seeds.numel()}"
            )
        nonempty = layout.node_counts > 0
        inside = (seeds >= layout.ptr[:-1]) & (seeds < layout.ptr[1:])
        if bool((nonempty & ~inside).any()):
            g = int((nonempty & ~inside).nonzero()[0])
            raise ValueError(
                f"seeds[{g}] = {int(seeds[g])} is not a node of graph {g} "
                f"(nodes {int(layout.ptr[g])}..{int(layout.ptr[g + 1]) - 1})"
            )
    src, dst = data.edge_index[0], data.edge_index[1]
    reached = _reachable(layout, src, dst, seeds[nonempty], int(num_hops))
    count = torch.bincount(layout.batch[reached], minlength=layout.num_graphs)
    return _maybe_counts(_induced(data, layout, reached), {"kept": count}, return_counts)


def grow_subgraph(
    data: Data,
    keep_ratio: float = 0.2,
    *,
    extra_nodes: int = 0,
    faithful_subgraph_bug: bool = False,
    generator: torch.Generator | None = None,
    return_counts: bool = False,
) -> Data | tuple[Data, dict[str, Tensor]]:
    """GraphCL's subgraph: grow a connected node set from a seed, one frontier node at a time.

    Graph ``g`` targets ``t_g = clamp(floor(keep_ratio * n_g) + extra_nodes, 1, n_g)``
    nodes. From a uniform seed, each step adds one uniformly chosen *frontier* node (an
    out-neighbour of the selected set that is not selected yet) until ``t_g`` nodes are
    selected or the frontier is empty (then the graph keeps fewer: see ``kept``).

    **How it is computed (exactly that distribution, without a loop over growth steps).**
    Give every node ``v`` an independent clock ``E_v ~ Exp(1)`` and let it be selected at
    time ``S_v = E_v + min_{u -> v} S_u`` (``S_seed = 0``): ``v`` joins the frontier when its
    first in-neighbour is selected and is selected ``E_v`` later. By the memorylessness of the
    exponential, whenever a node is selected the residual clocks of the frontier nodes are
    again i.i.d. ``Exp(1)``, so the next node selected is uniform among the frontier: the
    order of ``S`` is the growth order, and the view keeps the ``t_g`` nodes of smallest finite
    ``S`` of every graph. ``S`` is a shortest-path distance with node weights ``E``, computed by
    Bellman-Ford relaxations (one gather and one scatter-min over the edges each); a kept node's
    shortest path runs through kept nodes only, so ``t_g - 1`` relaxations are exact for them:
    relaxation ``k`` touches only the edges of the graphs with ``t_g - 1 > k`` (edges sorted once
    by that need), and the loop stops early once the distances stop changing.

    ``faithful_subgraph_bug=True`` reproduces the official code, whose frontier union is
    discarded: only the seed's own neighbours can ever join, so the view is the seed plus up
    to ``t_g - 1`` of its neighbours, uniformly without replacement (one relaxation). (The
    official loop also gives up after ``n_g`` draws with replacement; drawing among the
    unselected candidates yields the same sets whenever the official loop finishes.)

    Args:
        data: a ``Data`` or ``Batch``.
        keep_ratio: fraction of each graph's nodes to keep, in [0, 1] (GraphCL transfer:
            0.2 with ``extra_nodes=1``; semi-supervised: ``1 - r``).
        extra_nodes: added to every target.
        faithful_subgraph_bug: grow from the seed's neighbours only.
        generator: source of randomness.
        return_counts: also return ``{"kept": [B]}`` nodes kept per graph.
    """
    _check_subgraph_args(keep_ratio, extra_nodes)
    layout = graph_layout(data)
    selected, count = grow_subgraph_keep(data, layout, keep_ratio, extra_nodes=extra_nodes,
                                         faithful_subgraph_bug=faithful_subgraph_bug, generator=generator)
    return _maybe_counts(_induced(data, layout, selected), {"kept": count}, return_counts)


def grow_subgraph_keep(
    data: Data,
    layout: GraphLayout,
    keep_ratio: float = 0.2,
    *,
    extra_nodes: int = 0,
    faithful_subgraph_bug: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """The node mask of :func:`grow_subgraph` (same arguments, ``layout`` of ``data``):
    ``([N] bool kept, [B] kept per graph)``."""
    _check_subgraph_args(keep_ratio, extra_nodes)
    device = layout.batch.device
    n_nodes, n_graphs = layout.num_nodes, layout.num_graphs
    target = _targets(layout, keep_ratio, extra_nodes)
    start, nonempty = _start_nodes(layout, generator)
    src, dst = data.edge_index[0], data.edge_index[1]

    # E_v ~ Exp(1) as -log(1 - U), U uniform in [0, 1)
    clock = -torch.log1p(-_rand(n_nodes, device, generator, torch.float64))
    dist = torch.full((n_nodes,), float("inf"), dtype=torch.float64, device=device)
    dist[start[nonempty]] = 0.0
    if faithful_subgraph_bug:
        needed = (target > 1).long()  # one relaxation: the seed's neighbours
    else:
        needed = (target - 1).clamp(min=0)  # relaxations graph g needs
    edge_needs = needed[layout.batch[src]]
    # edges of the graphs that need the most relaxations first: relaxation k uses a prefix
    order = torch.argsort(edge_needs, descending=True)
    src, dst = src[order], dst[order]
    clock_dst = clock[dst]
    hist = torch.bincount(edge_needs, minlength=int(needed.max()) + 1 if n_graphs else 1)
    active = (hist.flip(0).cumsum(0).flip(0)[1:]).tolist()  # active[k] = #edges with needs > k
    before = dist.clone()
    for k, c in enumerate(active):
        # Jacobi step: the gather reads the distances of step k - 1 before the in-place scatter-min
        dist.scatter_reduce_(0, dst[:c], dist[src[:c]] + clock_dst[:c], "amin")
        if k % 4 == 3:  # stop once the distances no longer change (checked every 4 steps)
            if torch.equal(dist, before):
                break
            before.copy_(dist)
    rank = segment_rank(layout.batch, n_graphs, dist)
    selected = (rank < target[layout.batch]) & torch.isfinite(dist)
    count = torch.bincount(layout.batch[selected], minlength=n_graphs)
    return selected, count


__all__ = ["grow_subgraph", "grow_subgraph_keep", "khop_subgraph", "random_walk_subgraph"]
