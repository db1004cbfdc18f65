"""The batch contract of a neighbour loader, checked the same way for PyG's ``NeighborLoader``
and the native :class:`gcl.data.sampling.SubgraphLoader` (defaults: without replacement,
directional subgraphs)."""
from __future__ import annotations

import torch
from torch_geometric.data import Data


def seeds_of(batch: Data, num_nodes: int, input_nodes: torch.Tensor | None = None) -> torch.Tensor:
    """The seed ids a batch claims through ``input_id`` (PyG's meaning of ``input_id``)."""
    if input_nodes is None:
        return batch.input_id
    if input_nodes.dtype == torch.bool:
        return batch.input_id  # PyG: the global ids of the mask's nodes
    return input_nodes[batch.input_id]


def check_neighbor_batch(batch: Data, data: Data, num_neighbors: list[int],
                         input_nodes: torch.Tensor | None = None) -> None:
    """Assert that ``batch`` is a valid neighbour-sampled batch of ``data``.

    Checks: seeds first (``n_id[:batch_size]`` are the seeds named by ``input_id``); ``n_id``
    distinct global ids; ``x``/``y`` sliced by ``n_id``; local ``edge_index`` whose global form
    ``n_id[edge_index]`` is the graph's edges ``e_id`` (real edges, only between sampled nodes,
    the graph's direction), distinct ``e_id``; and, per hop (``num_sampled_nodes``), that every
    node of hop k < L has exactly ``min(in-degree, num_neighbors[k])`` in-edges, nodes of the last
    hop none, and every node of hop k >= 1 is a sampled neighbour of a node of hop k - 1.
    """
    n, bs = batch.num_nodes, batch.batch_size
    assert isinstance(bs, int) and 0 < bs <= n
    n_id = batch.n_id
    assert n_id.dtype == torch.long and n_id.shape == (n,)
    assert n_id.unique().numel() == n, "a node appears twice"
    assert int(n_id.min()) >= 0 and int(n_id.max()) < data.num_nodes
    assert batch.input_id.shape == (bs,)
    assert torch.equal(n_id[:bs], seeds_of(batch, data.num_nodes, input_nodes)), "seeds are not first"
    assert torch.equal(batch.x, data.x[n_id])
    if data.y is not None:
        assert torch.equal(batch.y, data.y[n_id])

    ei, e_id = batch.edge_index, batch.e_id
    assert ei.dtype == torch.long and ei.size(0) == 2 and e_id.shape == (ei.size(1),)
    if ei.numel():
        assert int(ei.min()) >= 0 and int(ei.max()) < n, "edge_index is not local"
    assert e_id.unique().numel() == e_id.numel(), "an edge appears twice"
    assert torch.equal(n_id[ei], data.edge_index[:, e_id]), "edges are not the graph's edges"

    hops = batch.num_sampled_nodes
    if hops is None:  # torch-sparse does not report hops: only the fan-out bound is checkable
        in_count = torch.bincount(ei[1], minlength=n)
        assert int(in_count.max(initial=0)) <= max(k if k >= 0 else data.num_edges for k in num_neighbors)
        return
    hops = [int(h) for h in hops]
    assert len(hops) == len(num_neighbors) + 1 and hops[0] == bs and sum(hops) == n
    assert sum(int(e) for e in batch.num_sampled_edges) == ei.size(1)
    bounds = torch.tensor([0] + hops).cumsum(0)
    hop_of = torch.bucketize(torch.arange(n), bounds[1:], right=True)  # hop of every local node
    full_deg = torch.bincount(data.edge_index[1], minlength=data.num_nodes)[n_id]
    fanout = torch.tensor([k for k in num_neighbors] + [0])[hop_of]
    expected = torch.where(fanout < 0, full_deg, torch.minimum(full_deg, fanout.clamp(min=0)))
    expected[hop_of == len(num_neighbors)] = 0  # the last hop is never expanded
    assert torch.equal(torch.bincount(ei[1], minlength=n), expected), "per-hop fan-out violated"
    # every non-seed node entered as the sampled neighbour of a node one hop closer to the seeds
    reached = torch.zeros(n, dtype=torch.bool)
    reached[ei[0][hop_of[ei[0]] == hop_of[ei[1]] + 1]] = True
    assert bool(reached[bs:].all()), "a node is not a sampled neighbour of the previous hop"
