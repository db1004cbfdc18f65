"""Neighbour sampling: the native sampler against plain references, the batch contract shared
with PyG's ``NeighborLoader``, and the backend choice."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch_geometric.data import Data

from gcl.data.sampling import (
    NeighborSampler,
    SamplingBackendError,
    SubgraphLoader,
    neighbor_loader,
    pyg_sampling_available,
    resolve_backend,
    sample_k_subsets,
    to_csc,
)
from neighbor_contract import check_neighbor_batch

NO_PYG_SAMPLING = "PyG's NeighborLoader needs pyg-lib or torch-sparse, and neither is importable here"


def _graph(n: int = 40, e: int = 260, seed: int = 0, directed: bool = True) -> Data:
    """A random multigraph-free graph with hubs (node 0 and 1 receive many edges)."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (e,), generator=g)
    dst = torch.cat([torch.zeros(e // 4, dtype=torch.long), torch.ones(e // 8, dtype=torch.long),
                     torch.randint(0, n, (e - e // 4 - e // 8,), generator=g)])
    key = torch.unique(src * n + dst)
    ei = torch.stack([key // n, key % n])
    if not directed:
        ei = torch.unique(torch.cat([ei, ei.flip(0)], 1), dim=1)
    m = ei.size(1)
    perm = torch.randperm(m, generator=g)  # edge ids not sorted by anything
    return Data(x=torch.randn(n, 3, generator=g), y=torch.arange(n) * 10, edge_index=ei[:, perm],
                edge_attr=torch.arange(m, dtype=torch.float)[perm].unsqueeze(1), num_nodes=n)


def _in_neighbours(data: Data) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in range(data.num_nodes)}
    for s, d in data.edge_index.t().tolist():
        out[d].append(s)
    return out


# --------------------------------------------------------------------------- CSC and k-subsets
def test_csc_lists_the_in_neighbours_of_every_node():
    data = _graph()
    csc = to_csc(data.edge_index, data.num_nodes)
    ref = _in_neighbours(data)
    for i in range(data.num_nodes):
        lo, hi = int(csc.colptr[i]), int(csc.colptr[i + 1])
        assert sorted(csc.row[lo:hi].tolist()) == sorted(ref[i])
        assert torch.equal(data.edge_index[1, csc.perm[lo:hi]], torch.full((hi - lo,), i))
    with pytest.raises(ValueError, match="outside"):
        to_csc(data.edge_index, 5)


def test_k_subsets_are_distinct_in_range_and_uniform():
    g = torch.Generator().manual_seed(0)
    deg = torch.randint(7, 60, (500,), generator=g)
    sub = sample_k_subsets(deg, 7, g)
    assert sub.shape == (500, 7)
    assert bool((sub >= 0).all()) and bool((sub < deg.unsqueeze(1)).all())
    assert bool((sub.sort(1).values.diff(dim=1) > 0).all()), "offsets repeat within a row"
    # every 2-subset of {0..4} equally likely: 20,000 draws, 10 subsets, 2,000 expected each
    draws = sample_k_subsets(torch.full((20000,), 5), 2, g).sort(1).values
    counts = torch.bincount(draws[:, 0] * 5 + draws[:, 1], minlength=25)
    pairs = [a * 5 + b for a, b in itertools.combinations(range(5), 2)]
    assert int(counts.sum()) == int(counts[pairs].sum()) == 20000
    sd = math.sqrt(20000 * 0.1 * 0.9)
    assert float((counts[pairs].float() - 2000).abs().max()) < 5 * sd


# --------------------------------------------------------------------------- the native sampler
@pytest.mark.parametrize("directed", [True, False])
def test_all_neighbours_equal_a_breadth_first_reference(directed):
    data = _graph(directed=directed)
    ref = _in_neighbours(data)
    seeds = torch.tensor([5, 0, 17])
    out = NeighborSampler(data.edge_index, data.num_nodes, [-1, -1]).sample(seeds)
    hops, seen, frontier = [seeds.tolist()], set(seeds.tolist()), seeds.tolist()
    edges = set()
    for _ in range(2):  # plain BFS over in-neighbours
        new = []
        for t in frontier:
            for s in ref[t]:
                edges.add((s, t))
                if s not in seen:
                    seen.add(s)
                    new.append(s)
        hops.append(new)
        frontier = new
    assert out.num_sampled_nodes == [len(h) for h in hops]
    assert out.node.tolist() == [v for h in hops for v in h]  # first-appearance order, hop by hop
    got = set(zip(out.node[out.row].tolist(), out.node[out.col].tolist()))
    assert got == edges and out.edge.numel() == len(edges)


def test_fanout_caps_without_replacement_and_only_real_neighbours():
    data = _graph()
    ref = _in_neighbours(data)
    sampler = NeighborSampler(data.edge_index, data.num_nodes, [3, 2])
    g = torch.Generator().manual_seed(1)
    for seeds in (torch.tensor([0, 1, 2, 3]), torch.tensor([9]), torch.arange(40)):
        out = sampler.sample(seeds, g)
        src, dst = out.node[out.row].tolist(), out.node[out.col].tolist()
        for s, t in zip(src, dst):
            assert s in ref[t]
        per_target: dict[int, int] = {}
        for t in dst:
            per_target[t] = per_target.get(t, 0) + 1
        seed_set = set(seeds.tolist())
        for t, c in per_target.items():
            assert c == min(len(ref[t]), 3 if t in seed_set else 2)
        assert len(set(out.edge.tolist())) == out.edge.numel()
        assert out.node.unique().numel() == out.node.numel()


def test_sampling_is_deterministic_given_the_generator():
    data = _graph()
    sampler = NeighborSampler(data.edge_index, data.num_nodes, [2, 2])
    seeds = torch.tensor([0, 1, 7])
    a = sampler.sample(seeds, torch.Generator().manual_seed(3))
    b = sampler.sample(seeds, torch.Generator().manual_seed(3))
    c = sampler.sample(seeds, torch.Generator().manual_seed(4))
    assert torch.equal(a.node, b.node) and torch.equal(a.edge, b.edge) and torch.equal(a.row, b.row)
    assert not torch.equal(a.edge, c.edge)  # hub 0 has far more than 2 in-neighbours


def test_sampler_rejects_bad_seeds_and_fanouts():
    data = _graph()
    sampler = NeighborSampler(data.edge_index, data.num_nodes, [2])
    with pytest.raises(ValueError, match="distinct"):
        sampler.sample(torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="outside"):
        sampler.sample(torch.tensor([40]))
    with pytest.raises(ValueError, match="num_neighbors"):
        NeighborSampler(data.edge_index, data.num_nodes, [2, -3])


# --------------------------------------------------------------------------- the loader contract
@pytest.mark.parametrize("input_nodes", [None, "index", "mask"])
def test_native_batches_meet_the_neighbor_loader_contract(input_nodes):
    data = _graph()
    if input_nodes == "index":
        input_nodes = torch.tensor([3, 0, 11, 25, 1, 39, 8])
    elif input_nodes == "mask":
        input_nodes = torch.arange(40) % 3 == 0
    loader = SubgraphLoader(data, [4, 2], batch_size=3, shuffle=True, input_nodes=input_nodes,
                            generator=torch.Generator().manual_seed(0))
    seeds = []
    for batch in loader:
        check_neighbor_batch(batch, data, [4, 2], input_nodes)
        assert torch.equal(batch.edge_attr, data.edge_attr[batch.e_id])
        seeds.append(batch.n_id[:batch.batch_size])
    expected = torch.arange(40) if input_nodes is None else (
        input_nodes.nonzero().view(-1) if input_nodes.dtype == torch.bool else input_nodes)
    assert len(seeds) == len(loader) == math.ceil(expected.numel() / 3)
    assert torch.equal(torch.cat(seeds).sort().values, expected.sort().values)  # each seed once


def test_loader_replays_batches_from_a_restored_generator_and_drops_last():
    data = _graph()
    g = torch.Generator().manual_seed(5)
    loader = SubgraphLoader(data, [3], batch_size=16, shuffle=True, drop_last=True, generator=g)
    state = g.get_state()
    first = [b.n_id for b in loader]
    g.set_state(state)
    again = [b.n_id for b in loader]
    assert len(first) == len(loader) == 2 and all(torch.equal(a, b) for a, b in zip(first, again))
    assert all(b.batch_size == 16 for b in loader)
    unshuffled = [b.n_id[:b.batch_size] for b in SubgraphLoader(data, [3], batch_size=16)]
    assert torch.equal(torch.cat(unshuffled), torch.arange(40))


def test_contract_checker_rejects_a_broken_batch():
    data = _graph()
    batch = next(iter(SubgraphLoader(data, [4, 2], batch_size=3)))
    check_neighbor_batch(batch, data, [4, 2])
    bad = batch.clone()
    bad.edge_index = bad.edge_index.flip(0)  # wrong direction
    with pytest.raises(AssertionError):
        check_neighbor_batch(bad, data, [4, 2])
    with pytest.raises(AssertionError):  # fan-out claimed smaller than sampled
        check_neighbor_batch(batch, data, [1, 2])


@pytest.mark.skipif(not pyg_sampling_available(), reason=NO_PYG_SAMPLING)
@pytest.mark.parametrize("input_nodes", [None, "index"])
def test_pyg_neighbor_loader_meets_the_same_contract(input_nodes):
    data = _graph()
    if input_nodes == "index":
        input_nodes = torch.tensor([3, 0, 11, 25, 1, 39, 8])
    loader = neighbor_loader(data, [4, 2], batch_size=3, shuffle=True, input_nodes=input_nodes,
                             generator=torch.Generator().manual_seed(0), backend="pyg")
    assert not isinstance(loader, SubgraphLoader)
    for batch in loader:
        check_neighbor_batch(batch, data, [4, 2], input_nodes)
        assert torch.equal(batch.edge_attr, data.edge_attr[batch.e_id])


# --------------------------------------------------------------------------- backend choice
def test_backend_choice():
    data = _graph()
    assert isinstance(neighbor_loader(data, [2], backend="native"), SubgraphLoader)
    assert resolve_backend("auto") == ("pyg" if pyg_sampling_available() else "native")
    with pytest.raises(ValueError, match="backend must be one of"):
        neighbor_loader(data, [2], backend="dgl")
    with pytest.raises(ValueError, match="no extra NeighborLoader arguments"):
        neighbor_loader(data, [2], backend="native", num_workers=2)


@pytest.mark.skipif(pyg_sampling_available(), reason="pyg-lib or torch-sparse is installed here")
def test_pyg_backend_without_its_extension_names_the_package_and_the_command():
    with pytest.raises(SamplingBackendError) as info:
        neighbor_loader(_graph(), [2], backend="pyg")
    msg = str(info.value)
    assert "\n" not in msg and "pyg-lib" in msg and "torch-sparse" in msg and "pip install" in msg
    assert isinstance(neighbor_loader(_graph(), [2]), SubgraphLoader)  # auto falls back
