"""Native k-hop neighbour sampling (the sampling of PyG's ``NeighborLoader``, in plain torch).

**Semantics** (those of ``NeighborLoader`` with its defaults ``replace=False``,
``subgraph_type="directional"``, ``disjoint=False``). From the seed nodes ``S_0``, hop
``k = 1 .. L`` takes every node of the frontier ``S_{k-1}`` (the nodes first reached at hop
``k - 1``) and samples up to ``num_neighbors[k-1]`` of its in-neighbours (the sources of its
in-edges, see :mod:`gcl.data.sampling.csc`), **uniformly without replacement** among its in-edges
(``-1``: all of them). Every sampled edge ``(j -> i)`` is kept; ``j`` joins the subgraph unless it
is already in it, and the nodes that joined at hop ``k`` form ``S_k``. Hence

- a frontier node with in-degree ``deg <= fanout`` keeps all its in-edges, one with
  ``deg > fanout`` keeps exactly ``fanout`` distinct ones;
- every node appears once; the node order is seeds first (in the given order), then the nodes
  of hop 1 in order of first appearance, then those of hop 2, ...;
- the edges are only the sampled ones (grouped by hop, then by target node), so nodes of the
  last hop have no in-edges, and no edge leaves the sampled node set.

**Without replacement, vectorised.** For the frontier nodes whose degree exceeds the fan-out k
the offsets into their neighbour lists come from Robert Floyd's algorithm, run for all those
nodes at once: for ``t = 0 .. k-1`` draw ``u ~ U{0 .. deg - k + t}`` per node and keep ``u``, or
``deg - k + t`` when ``u`` was already kept. This gives every k-subset of ``{0 .. deg - 1}`` with
probability ``1 / C(deg, k)``, costs O(k) random draws and O(k^2) comparisons per node whatever
its degree (hubs of power-law graphs included) and loops over the k draws only, never over
nodes or edges.

**Relabelling** is sort-based: per hop one ``searchsorted`` against the sorted ids already in
the subgraph and one ``unique`` of the rest, so memory is O(sampled nodes + sampled edges) per
batch and nothing of size N is allocated.

Randomness comes only from ``generator`` (``None``: torch's global generator); the same state
gives the same subgraph.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gcl.data.sampling.csc import CSCGraph, to_csc


@dataclass
class SampledSubgraph:
    """What one call of :meth:`NeighborSampler.sample` returns (PyG's ``SamplerOutput`` fields).

    Attributes:
        node: [n] long global ids of the sampled nodes, seeds first (``n_id`` of a batch).
        row: [e] long local source of every sampled edge (index into ``node``).
        col: [e] long local target of every sampled edge.
        edge: [e] long global edge id (column of the input ``edge_index``), ``e_id`` of a batch.
        num_sampled_nodes: ``[len(seeds), new nodes at hop 1, ..., hop L]``.
        num_sampled_edges: ``[edges sampled at hop 1, ..., hop L]``.
    """

    node: Tensor
    row: Tensor
    col: Tensor
    edge: Tensor
    num_sampled_nodes: list[int]
    num_sampled_edges: list[int]


def sample_k_subsets(deg: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """A uniform random k-subset of ``{0 .. deg_i - 1}`` for every row (Floyd's algorithm).

    Args:
        deg: [m] long, every entry ``>= k``.
        k: subset size, ``>= 0``.
        generator: source of randomness (draws happen on its device).

    Returns:
        [m, k] long; row i holds k distinct offsets in ``[0, deg_i)`` (in draw order).
    """
    m = deg.numel()
    out = torch.empty(m, k, dtype=torch.long, device=deg.device)
    if m == 0 or k == 0:
        return out
    if int(deg.min()) < k:
        raise ValueError(f"every degree must be >= k = {k} to draw k distinct offsets")
    dev = generator.device if generator is not None else deg.device
    u = torch.rand(m, k, generator=generator, device=dev, dtype=torch.float64).to(deg.device)
    for t in range(k):  # a loop over the k draws, never over nodes
        top = deg - k + t  # the draw ranges over 0 .. top
        cand = (u[:, t] * (top + 1).to(torch.float64)).floor().to(torch.long).clamp_(max=top)
        seen = (out[:, :t] == cand.unsqueeze(1)).any(dim=1)
        out[:, t] = torch.where(seen, top, cand)
    return out


def _ranges(counts: Tensor) -> tuple[Tensor, Tensor]:
    """For segment sizes ``counts`` [m]: the segment of every element and its offset in it."""
    total = int(counts.sum())
    seg = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts,
                                  output_size=total)
    starts = torch.cumsum(counts, 0) - counts
    return seg, torch.arange(total, device=counts.device) - starts[seg]


class NeighborSampler:
    """Samples the k-hop subgraph of seed nodes (see the module docstring for the semantics).

    Args:
        edge_index: [2, E] long ``(src, dst)``; a node's neighbours are the sources of its
            in-edges (store both directions for an undirected graph).
        num_nodes: N.
        num_neighbors: fan-out per hop, ``[k_1, ..., k_L]``; ``-1`` takes every neighbour.

    The CSC layout (:func:`gcl.data.sampling.csc.to_csc`) is built once here: 2 E + N + 1
    integers kept for the sampler's lifetime.
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, num_neighbors: list[int] | tuple[int, ...]):
        fanouts = [int(k) for k in num_neighbors]
        if not fanouts or any(k < -1 for k in fanouts):
            raise ValueError(f"num_neighbors must be a non-empty list of ints >= -1 (-1: all), "
                             f"got {list(num_neighbors)}")
        self.num_neighbors = fanouts
        self.csc: CSCGraph = to_csc(edge_index, num_nodes)

    @property
    def num_nodes(self) -> int:
        return self.csc.num_nodes

    def _hop(self, frontier: Tensor, fanout: int,
             generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
        """Sample the in-edges of every frontier node.

        Returns:
            ``(target [e] index into frontier, source [e] global node, edge id [e])``.
        """
        deg = self.csc.in_degree(frontier)
        take = deg if fanout < 0 else deg.clamp(max=fanout)
        seg, offset = _ranges(take)
        if fanout >= 0:
            big = deg > fanout
            if bool(big.any()):
                # rows with deg > fanout hold exactly `fanout` entries, in row order
                offset[big[seg]] = sample_k_subsets(deg[big], fanout, generator).reshape(-1)
        pos = self.csc.colptr[frontier][seg] + offset
        return seg, self.csc.row[pos], self.csc.perm[pos]

    def sample(self, seeds: Tensor, generator: torch.Generator | None = None) -> SampledSubgraph:
        """Sample the subgraph of ``seeds``.

        Args:
            seeds: [B] long distinct global node ids.
            generator: source of randomness.

        Returns:
            :class:`SampledSubgraph` (global node ids seeds first, local edges, edge ids).

        Raises:
            ValueError: ``seeds`` is not 1-D, repeats a node or names one outside ``[0, N)``.
        """
        if seeds.dim() != 1:
            raise ValueError(f"seeds must be a 1-D tensor of node ids, got shape {tuple(seeds.shape)}")
        seeds = seeds.to(device=self.csc.colptr.device, dtype=torch.long)
        if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= self.num_nodes):
            raise ValueError(f"seeds name nodes outside [0, {self.num_nodes})")
        known, known_local = torch.sort(seeds)  # sorted global ids in the subgraph, their local ids
        if known.numel() > 1 and bool((known[1:] == known[:-1]).any()):
            raise ValueError("seeds must be distinct node ids")
        nodes, rows, cols, edges = [seeds], [], [], []
        frontier, first_local = seeds, 0  # the frontier's local ids are first_local + arange
        num_nodes_out, num_edges_out = [seeds.numel()], []
        total = seeds.numel()
        for fanout in self.num_neighbors:
            target, src, eid = self._hop(frontier, fanout, generator)
            pos = torch.searchsorted(known, src).clamp_(max=max(known.numel() - 1, 0))
            found = known[pos] == src if known.numel() else torch.zeros_like(src, dtype=torch.bool)
            local = torch.empty_like(src)
            local[found] = known_local[pos[found]]
            new_ids, inverse = torch.unique(src[~found], return_inverse=True)  # sorted
            first = torch.full((new_ids.numel(),), inverse.numel(), dtype=torch.long, device=src.device)
            first.scatter_reduce_(0, inverse, torch.arange(inverse.numel(), device=src.device), "amin")
            order = torch.argsort(first)  # new nodes in order of first appearance
            rank = torch.empty_like(order)
            rank[order] = torch.arange(order.numel(), device=order.device)
            local[~found] = total + rank[inverse]
            new_local = total + rank  # local ids of new_ids (sorted global order)
            rows.append(local)
            cols.append(first_local + target)
            edges.append(eid)
            frontier, first_local = new_ids[order], total
            nodes.append(frontier)
            num_nodes_out.append(frontier.numel())
            num_edges_out.append(src.numel())
            total += frontier.numel()
            known, idx = torch.sort(torch.cat([known, new_ids]))
            known_local = torch.cat([known_local, new_local])[idx]
        return SampledSubgraph(node=torch.cat(nodes), row=torch.cat(rows), col=torch.cat(cols),
                               edge=torch.cat(edges), num_sampled_nodes=num_nodes_out,
                               num_sampled_edges=num_edges_out)
