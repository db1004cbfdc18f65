"""gcl.views.subgraph: random-walk, k-hop and frontier-growth subgraphs on Data/Batch.

Test graphs are tagged as in test_graph_views: ``x[:, 0]`` is a node's global id in the
input batch, ``edge_attr`` its edge's tagged endpoints, ``y`` the graph index.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components
from torch_geometric.data import Batch, Data

from gcl.views.graph import graph_layout
from gcl.views.subgraph import grow_subgraph, khop_subgraph, random_walk_subgraph



def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_graph(n: int, pairs: list[tuple[int, int]], offset: int, index: int) -> Data:
    und = sorted({(min(u % n, v % n), max(u % n, v % n)) for u, v in pairs}) if n else []
    edges = [(u, v) for u, v in und] + [(v, u) for u, v in und if u != v]
    ei = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).T
    ei = ei[:, torch.randperm(ei.size(1), generator=gen(index + 17 * n))]
    x = torch.stack([torch.arange(n, dtype=torch.float) + offset, torch.rand(n, generator=gen(n))], 1)
    return Data(x=x, edge_index=ei, edge_attr=ei.T + offset, y=torch.tensor([[index]]), num_nodes=n)


def make_batch(specs: list[tuple[int, list[tuple[int, int]]]]) -> Batch:
    graphs, offset = [], 0
    for i, (n, pairs) in enumerate(specs):
        graphs.append(make_graph(n, pairs, offset, i))
        offset += n
    return Batch.from_data_list(graphs)


graph_spec = st.tuples(
    st.integers(1, 14), st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=30)
)
batches = st.lists(graph_spec, min_size=1, max_size=5)


def snapshot(data: Data) -> dict:
    snap = {k: v.clone() for k, v in data.items() if isinstance(v, torch.Tensor)}
    snap["_slices"] = {k: v.tolist() for k, v in data._slice_dict.items()}
    return snap


def assert_untouched(data: Data, snap: dict) -> None:
    now = snapshot(data)
    assert now.keys() == snap.keys()
    for key, value in snap.items():
        assert (torch.equal(now[key], value) if isinstance(value, torch.Tensor) else now[key] == value), key


def components(data: Data) -> np.ndarray:
    """Connected-component label of every node of the input (graphs never share one)."""
    n = data.num_nodes
    ei = data.edge_index.numpy()
    adj = sp.coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    return connected_components(adj, directed=False)[1]


def neighbours(data: Data) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(data.num_nodes)]
    for u, v in data.edge_index.T.tolist():
        out[u].add(v)
    return out


def ball(nbrs: list[set[int]], seed: int, hops: int) -> set[int]:
    seen, frontier = {seed}, {seed}
    for _ in range(hops):
        frontier = {v for u in frontier for v in nbrs[u]} - seen
        seen |= frontier
    return seen


def check_induced(data: Data, out: Data, num_graphs: int) -> list[set[int]]:
    """Valid batch, the exact induced subgraph of the kept tags; returns kept tags per graph."""
    lay = graph_layout(out)
    assert lay.num_graphs == num_graphs
    counts = torch.bincount(out.batch, minlength=num_graphs)
    assert out.ptr.tolist() == [0] + torch.cumsum(counts, 0).tolist()
    assert out.num_nodes == out.x.size(0) == out.batch.numel()
    tag = out.x[:, 0].long()
    assert torch.all(tag[1:] > tag[:-1])
    assert torch.equal(out.x, data.x[tag])
    assert torch.equal(out.batch, data.batch[tag])
    kept = set(tag.tolist())
    ref = [e for e in data.edge_attr.tolist() if e[0] in kept and e[1] in kept]
    assert out.edge_attr.tolist() == ref
    assert torch.equal(out.edge_attr, tag[out.edge_index].T)
    for g, d in enumerate(out.to_data_list()):
        assert int(d.y) == g and d.num_nodes == int(counts[g])
        if d.edge_index.numel():
            assert int(d.edge_index.max()) < d.num_nodes
    per_graph: list[set[int]] = [set() for _ in range(num_graphs)]
    for t, g in zip(tag.tolist(), out.batch.tolist()):
        per_graph[g].add(t)
    return per_graph


def is_connected(nodes: set[int], nbrs: list[set[int]]) -> bool:
    if not nodes:
        return True
    start = next(iter(nodes))
    seen, stack = {start}, [start]
    while stack:
        u = stack.pop()
        for v in nbrs[u] & nodes:
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return seen == nodes


# --------------------------------------------------------------------------- random walk


@settings(max_examples=40, deadline=None)
@given(
    specs=batches,
    keep=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
    extra=st.integers(0, 2),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_walk_subgraph_invariants(specs, keep: float, extra: int, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    out, c = random_walk_subgraph(
        data, keep, extra_nodes=extra, max_steps=100_000, generator=gen(seed), return_counts=True
    )
    assert_untouched(data, snap)
    kept = check_induced(data, out, len(specs))
    nbrs, comp = neighbours(data), components(data)
    comp_size = np.bincount(comp)
    for g, (n, _) in enumerate(specs):
        target = min(max(math.floor(keep * n) + extra, 1), n)
        assert len(kept[g]) == int(c["kept"][g]) >= 1
        assert is_connected(kept[g], nbrs)  # a walk visits a connected set
        size = int(comp_size[comp[next(iter(kept[g]))]])
        # the target is met unless the start's component is smaller
        assert len(kept[g]) == min(target, size)


def test_random_walk_reproducible_restart_and_step_limit() -> None:
    data = make_batch([(30, [(i, i + 1) for i in range(29)])] * 3)
    a = random_walk_subgraph(data, 0.5, generator=gen(1))
    b = random_walk_subgraph(data, 0.5, generator=gen(1))
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    c = random_walk_subgraph(data, 0.5, generator=gen(2))
    assert not torch.equal(a.x, c.x)
    out, counts = random_walk_subgraph(data, 0.5, max_steps=0, generator=gen(1), return_counts=True)
    assert counts["kept"].tolist() == [1, 1, 1] and out.edge_index.size(1) == 0
    out, counts = random_walk_subgraph(
        data, 0.3, restart=0.5, max_steps=5000, generator=gen(3), return_counts=True
    )
    assert counts["kept"].tolist() == [9, 9, 9]
    kept = check_induced(data, out, 3)
    assert all(is_connected(k, neighbours(data)) for k in kept)
    with pytest.raises(ValueError, match=r"restart must be in \[0, 1\)"):
        random_walk_subgraph(data, 0.5, restart=1.0)
    with pytest.raises(ValueError, match=r"keep_ratio must be in \[0, 1\]"):
        random_walk_subgraph(data, 1.5)
    with pytest.raises(ValueError, match="extra_nodes must be a non-negative integer"):
        random_walk_subgraph(data, 0.5, extra_nodes=-1)


def test_random_walk_isolated_start_and_single_data() -> None:
    # isolated nodes: a walker that cannot move keeps just its start
    data = make_batch([(5, []), (4, [(0, 1), (1, 2), (2, 3)])])
    out, c = random_walk_subgraph(data, 1.0, generator=gen(0), return_counts=True)
    assert c["kept"].tolist() == [1, 4]
    single = make_graph(12, [(i, (i + 1) % 12) for i in range(12)], 0, 0)
    out = random_walk_subgraph(single, 0.5, generator=gen(0))
    assert out.num_nodes == 6 and getattr(out, "batch", None) is None
    assert torch.equal(out.edge_attr, out.x[:, 0].long()[out.edge_index].T)


# --------------------------------------------------------------------------- k-hop


@settings(max_examples=40, deadline=None)
@given(specs=batches, hops=st.integers(0, 3), seed=st.integers(0, 2**31 - 1))
def test_khop_subgraph_is_the_k_hop_ball(specs, hops: int, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    nbrs = neighbours(data)
    ptr = data.ptr.tolist()
    rng = np.random.default_rng(seed)
    seeds = torch.tensor([ptr[g] + int(rng.integers(n)) for g, (n, _) in enumerate(specs)])
    out, c = khop_subgraph(data, hops, seeds=seeds, return_counts=True)
    assert_untouched(data, snap)
    kept = check_induced(data, out, len(specs))
    for g in range(len(specs)):
        assert kept[g] == ball(nbrs, int(seeds[g]), hops)
        assert len(kept[g]) == int(c["kept"][g])
    # random seeds: the kept set is the ball of one of its nodes
    out = khop_subgraph(data, hops, generator=gen(seed))
    for g, nodes in enumerate(check_induced(data, out, len(specs))):
        assert any(ball(nbrs, s, hops) == nodes for s in nodes)


def test_khop_errors_and_reproducibility() -> None:
    data = make_batch([(6, [(i, i + 1) for i in range(5)]), (4, [(0, 1)])])
    with pytest.raises(ValueError, match=r"seeds\[1\] = 2 is not a node of graph 1"):
        khop_subgraph(data, 1, seeds=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="one node per graph"):
        khop_subgraph(data, 1, seeds=torch.tensor([0]))
    with pytest.raises(ValueError, match="num_hops must be a non-negative integer"):
        khop_subgraph(data, -1)
    a = khop_subgraph(data, 1, generator=gen(4))
    b = khop_subgraph(data, 1, generator=gen(4))
    assert torch.equal(a.x, b.x)


# --------------------------------------------------------------------------- growth


@settings(max_examples=40, deadline=None)
@given(specs=batches, keep=st.sampled_from([0.1, 0.2, 0.5, 1.0]), extra=st.integers(0, 1),
       bug=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_grow_subgraph_sizes_and_connectivity(specs, keep: float, extra: int, bug: bool, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    out, c = grow_subgraph(
        data, keep, extra_nodes=extra, faithful_subgraph_bug=bug, generator=gen(seed), return_counts=True
    )
    assert_untouched(data, snap)
    kept = check_induced(data, out, len(specs))
    nbrs, comp = neighbours(data), components(data)
    comp_size = np.bincount(comp)
    for g, (n, _) in enumerate(specs):
        target = min(max(math.floor(keep * n) + extra, 1), n)
        nodes = kept[g]
        assert len(nodes) == int(c["kept"][g])
        if bug:
            # the seed plus its own neighbours only
            fits = [
                s for s in nodes
                if nodes <= {s} | nbrs[s] and len(nodes) == min(target, 1 + len(nbrs[s] - {s}))
            ]
            assert fits
        else:
            assert is_connected(nodes, nbrs)
            assert len(nodes) == min(target, int(comp_size[comp[next(iter(nodes))]]))


def test_grow_subgraph_bug_flag_changes_reach() -> None:
    # on a long path the correct growth reaches far; the faithful bug stops at 3 nodes
    data = make_batch([(40, [(i, i + 1) for i in range(39)])] * 4)
    _, c = grow_subgraph(data, 0.5, generator=gen(0), return_counts=True)
    assert c["kept"].tolist() == [20, 20, 20, 20]
    _, c = grow_subgraph(data, 0.5, faithful_subgraph_bug=True, generator=gen(0), return_counts=True)
    assert all(k in (2, 3) for k in c["kept"].tolist())


def test_grow_subgraph_picks_frontier_nodes_uniformly() -> None:
    # triangle 0-1-2 plus a pendant 3 on node 0, target 2 nodes: the second node is a
    # uniform neighbour of a uniform seed
    data = make_batch([(4, [(0, 1), (1, 2), (0, 2), (0, 3)])])
    g = gen(0)
    pairs: dict[frozenset, int] = {}
    for _ in range(1200):
        nodes = frozenset(grow_subgraph(data, 0.5, generator=g).x[:, 0].long().tolist())
        pairs[nodes] = pairs.get(nodes, 0) + 1
    # P(seed) = 1/4 each; seed 0 -> {0,1},{0,2},{0,3} w.p. 1/3; seed 1 -> {1,0},{1,2} w.p. 1/2;
    # seed 2 likewise; seed 3 -> {3,0}.
    expected = {
        frozenset({0, 1}): 1 / 12 + 1 / 8,
        frozenset({0, 2}): 1 / 12 + 1 / 8,
        frozenset({1, 2}): 1 / 8 + 1 / 8,
        frozenset({0, 3}): 1 / 12 + 1 / 4,
    }
    assert set(pairs) == set(expected)
    for key, p in expected.items():
        assert abs(pairs[key] / 1200 - p) < 0.045, (key, pairs[key] / 1200, p)


def frontier_growth_distribution(n: int, pairs: list[tuple[int, int]], target: int) -> dict[frozenset, float]:
    """Exact law of the kept set: uniform seed, then one uniform frontier node at a time."""
    nbrs = {v: set() for v in range(n)}
    for u, v in pairs:
        nbrs[u].add(v)
        nbrs[v].add(u)
    law: dict[frozenset, float] = {}

    def grow(chosen: frozenset, p: float) -> None:
        frontier = set().union(*(nbrs[v] for v in chosen)) - chosen
        if len(chosen) == target or not frontier:
            law[chosen] = law.get(chosen, 0.0) + p
            return
        for v in frontier:
            grow(chosen | {v}, p / len(frontier))

    for seed in range(n):
        grow(frozenset({seed}), 1.0 / n)
    return law


def test_grow_subgraph_matches_the_exact_growth_law_beyond_the_first_step() -> None:
    # lollipop: triangle 0-1-2, tail 2-3-4, pendant 5 on 0; 3 of 6 nodes. The later steps are
    # where a shortcut (e.g. a fixed random key per node, Prim-style) would drift from the law.
    pairs = [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (0, 5)]
    law = frontier_growth_distribution(6, pairs, 3)
    copies = 6000
    data = make_batch([(6, pairs)] * copies)
    out = grow_subgraph(data, 0.5, generator=gen(3))
    local = (out.x[:, 0].long() % 6).tolist()
    ptr = out.ptr.tolist()
    seen: dict[frozenset, int] = {}
    for g in range(copies):
        key = frozenset(local[ptr[g]:ptr[g + 1]])
        seen[key] = seen.get(key, 0) + 1
    assert set(seen) <= set(law)
    for key, p in law.items():
        sd = math.sqrt(p * (1 - p) / copies)
        assert abs(seen.get(key, 0) / copies - p) < 4.5 * sd + 1e-9, (sorted(key), seen.get(key, 0) / copies, p)


# --------------------------------------------------------------------------- molecules


def test_molbace_subgraphs() -> None:
    from gcl.data import load

    ds = load("ogbg-molbace")
    graphs, offset = [], 0
    for i in range(96):
        d = ds[i]
        d.x = torch.cat([torch.arange(d.num_nodes).unsqueeze(1) + offset, d.x], 1)
        d.edge_attr = torch.cat([d.edge_index.T + offset, d.edge_attr], 1)
        d.y = torch.tensor([[i]])
        offset += d.num_nodes
        graphs.append(d)
    data = Batch.from_data_list(graphs)
    snap = snapshot(data)
    n = graph_layout(data).node_counts.tolist()
    comp = components(data)
    comp_size = np.bincount(comp)
    nbrs = neighbours(data)

    def check(out: Data) -> list[set[int]]:
        tag = out.x[:, 0].long()
        assert torch.equal(out.x, data.x[tag])
        assert torch.equal(out.edge_attr[:, :2], tag[out.edge_index].T)
        assert torch.equal(out.batch[out.edge_index[0]], out.batch[out.edge_index[1]])
        per_graph: list[set[int]] = [set() for _ in range(96)]
        for t, g in zip(tag.tolist(), out.batch.tolist()):
            per_graph[g].add(t)
        for d in out.to_data_list():
            assert d.edge_index.numel() == 0 or int(d.edge_index.max()) < d.num_nodes
        return per_graph

    kept = check(grow_subgraph(data, 0.2, extra_nodes=1, generator=gen(0)))
    for g in range(96):
        target = min(math.floor(0.2 * n[g]) + 1, n[g])
        assert len(kept[g]) == min(target, int(comp_size[comp[next(iter(kept[g]))]]))
        assert is_connected(kept[g], nbrs)
    kept = check(random_walk_subgraph(data, 0.2, extra_nodes=1, max_steps=3000, generator=gen(1)))
    for g in range(96):
        target = min(math.floor(0.2 * n[g]) + 1, n[g])
        assert len(kept[g]) == min(target, int(comp_size[comp[next(iter(kept[g]))]]))
    kept = check(khop_subgraph(data, 2, generator=gen(2)))
    assert all(any(ball(nbrs, s, 2) == k for s in k) for k in kept)
    assert_untouched(data, snap)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_subgraphs_equal_cpu_with_a_cpu_generator() -> None:
    data = make_batch([(12, [(i, 3 * i + 1) for i in range(20)]), (30, [(i, i + 1) for i in range(29)])] * 8)
    for view in (
        lambda d, g: random_walk_subgraph(d, 0.5, restart=0.1, generator=g),
        lambda d, g: khop_subgraph(d, 2, generator=g),
        lambda d, g: grow_subgraph(d, 0.5, generator=g),
    ):
        cpu, cuda = view(data, gen(3)), view(data.to("cuda"), gen(3))
        for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
            assert torch.equal(cpu[key], cuda[key].cpu()), key


def test_empty_and_edgeless_graphs_in_a_batch() -> None:
    data = Batch.from_data_list(
        [make_graph(3, [], 0, 0), make_graph(0, [], 3, 1), make_graph(4, [(0, 1), (2, 3)], 3, 2)]
    )
    for view in (
        lambda d: random_walk_subgraph(d, 1.0, generator=gen(0), return_counts=True),
        lambda d: khop_subgraph(d, 2, generator=gen(0), return_counts=True),
        lambda d: grow_subgraph(d, 1.0, generator=gen(0), return_counts=True),
    ):
        out, c = view(data)
        kept = check_induced(data, out, 3)
        assert c["kept"].tolist() == [1, 0, 2] == [len(k) for k in kept]
