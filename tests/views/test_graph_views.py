"""gcl.views.graph: per-graph edge drop/add/perturb, node drop and feature mask on Data/Batch.

Every graph of a test batch is tagged so that a view can be checked against its input:
``x[:, 0]`` is the node's global id in the input batch, ``edge_attr`` is the input edge's
``(source id, target id)`` and ``y`` is the graph's index.
"""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from gcl.views.graph import (
    edge_add,
    edge_drop,
    edge_perturb,
    feature_mask,
    graph_layout,
    merge_graph_views,
    node_drop,
    segment_rank,
    select_graphs,
)



def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- test graphs


def make_graph(
    n: int, pairs: list[tuple[int, int]], offset: int, index: int, directed: bool = False
) -> Data:
    """Graph with nodes tagged ``offset + i`` and edges tagged by their tagged endpoints."""
    if directed:
        edges = sorted({(u % n, v % n) for u, v in pairs if u % n != v % n}) if n else []
    else:
        und = sorted({(min(u % n, v % n), max(u % n, v % n)) for u, v in pairs}) if n else []
        edges = [(u, v) for u, v in und] + [(v, u) for u, v in und if u != v]
    ei = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).T
    perm = torch.randperm(ei.size(1), generator=gen(index + 17 * n))
    ei = ei[:, perm]
    x = torch.stack([torch.arange(n, dtype=torch.float) + offset, torch.rand(n, generator=gen(n)) + 1], 1)
    return Data(
        x=x,
        edge_index=ei,
        edge_attr=ei.T + offset,
        y=torch.tensor([[index]]),
        num_nodes=n,
    )


def make_batch(specs: list[tuple[int, list[tuple[int, int]]]], directed: bool = False) -> Batch:
    graphs, offset = [], 0
    for i, (n, pairs) in enumerate(specs):
        graphs.append(make_graph(n, pairs, offset, i, directed))
        offset += n
    return Batch.from_data_list(graphs)


graph_spec = st.tuples(
    st.integers(1, 12), st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=30)
)
batches = st.lists(graph_spec, min_size=1, max_size=5)


def snapshot(data: Data) -> dict:
    snap = {k: v.clone() for k, v in data.items() if isinstance(v, torch.Tensor)}
    snap["_slices"] = {k: v.clone() for k, v in getattr(data, "_slice_dict", {}).items()}
    snap["_num_nodes"] = data.num_nodes
    return snap


def assert_untouched(data: Data, snap: dict) -> None:
    now = snapshot(data)
    assert now.keys() == snap.keys()
    for key, value in snap.items():
        if key == "_slices":
            listed = {k: v.tolist() for k, v in value.items()}
            assert {k: v.tolist() for k, v in now[key].items()} == listed
        elif isinstance(value, torch.Tensor):
            assert torch.equal(now[key], value), key
        else:
            assert now[key] == value


def per_graph_pairs(data: Data, undirected: bool = True) -> list[set[tuple[int, int]]]:
    """Distinct edges of every graph, in tag space."""
    lay = graph_layout(data)
    tag = data.x[:, 0].long()
    out: list[set[tuple[int, int]]] = [set() for _ in range(lay.num_graphs)]
    for (u, v), g in zip(data.edge_index.T.tolist(), lay.edge_graph.tolist()):
        a, b = int(tag[u]), int(tag[v])
        out[g].add((min(a, b), max(a, b)) if undirected else (a, b))
    return out


def assert_valid(out: Data, num_graphs: int, symmetric: bool = True) -> None:
    """batch/ptr consistent, edges grouped by graph and inside it, attributes aligned."""
    lay = graph_layout(out)
    assert lay.num_graphs == num_graphs
    batch = out.batch
    assert torch.all(batch[1:] >= batch[:-1])
    counts = torch.bincount(batch, minlength=num_graphs)
    assert out.ptr.tolist() == [0] + torch.cumsum(counts, 0).tolist()
    assert out.num_nodes == batch.numel() == out.x.size(0)
    src, dst = out.edge_index
    assert torch.equal(batch[src], batch[dst])  # no edge between two graphs
    assert torch.all(batch[src][1:] >= batch[src][:-1])  # grouped by graph
    assert out.edge_attr.size(0) == out.edge_index.size(1)
    if symmetric:
        es = set(map(tuple, out.edge_index.T.tolist()))
        assert es == {(v, u) for u, v in es}
    graphs = out.to_data_list()
    assert len(graphs) == num_graphs
    for g, d in enumerate(graphs):
        assert d.num_nodes == int(counts[g]) == d.x.size(0)
        if d.edge_index.numel():
            assert 0 <= int(d.edge_index.min()) and int(d.edge_index.max()) < d.num_nodes
        assert d.edge_attr.size(0) == d.edge_index.size(1)
        assert int(d.y) == g


def tags_of_edges(out: Data) -> torch.Tensor:
    """``[E, 2]`` tagged endpoints of every output edge (what edge_attr must equal)."""
    tag = out.x[:, 0].long()
    return tag[out.edge_index].T


# --------------------------------------------------------------------------- segment rank


def test_segment_rank_ranks_within_groups() -> None:
    group = torch.tensor([1, 0, 1, 1, 0, 2])
    keys = torch.tensor([0.5, 0.9, 0.1, 0.7, 0.2, 0.3])
    assert segment_rank(group, 4, keys).tolist() == [1, 1, 0, 2, 0, 0]
    assert segment_rank(torch.zeros(0, dtype=torch.long), 3, torch.zeros(0)).numel() == 0


# --------------------------------------------------------------------------- edge drop


@settings(max_examples=40, deadline=None)
@given(specs=batches, p=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9, 1.0]), seed=st.integers(0, 2**31 - 1))
def test_edge_drop_exact_counts_and_invariants(specs, p: float, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    out, counts = edge_drop(data, p, generator=gen(seed), return_counts=True)
    assert_untouched(data, snap)
    assert_valid(out, len(specs))
    before, after = per_graph_pairs(data), per_graph_pairs(out)
    for g, (b, a) in enumerate(zip(before, after)):
        assert a <= b
        assert len(b) - len(a) == math.floor(p * len(b)) == int(counts["dropped"][g])
    # kept edge columns are the input's columns of kept pairs, in input order, with their attrs
    kept_pairs = set().union(*after)
    expected = [e for e in data.edge_attr.tolist() if (min(e), max(e)) in kept_pairs]
    assert out.edge_attr.tolist() == expected
    assert torch.equal(out.edge_attr, tags_of_edges(out))
    assert torch.equal(out.x, data.x) and torch.equal(out.batch, data.batch)


def test_edge_drop_same_seed_same_view() -> None:
    data = make_batch([(12, [(i, i * 7 + 3) for i in range(30)])] * 4)
    a = edge_drop(data, 0.5, generator=gen(3))
    b = edge_drop(data, 0.5, generator=gen(3))
    c = edge_drop(data, 0.5, generator=gen(4))
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_attr, b.edge_attr)
    assert not torch.equal(a.edge_index, c.edge_index)


def test_edge_drop_single_data_and_directed() -> None:
    d = make_graph(10, [(i, (3 * i + 1) % 10) for i in range(10)] + [(4, 4)], 0, 0)
    snap = snapshot(d)
    out, c = edge_drop(d, 0.4, generator=gen(1), return_counts=True)
    assert_untouched(d, snap)
    assert not hasattr(out, "batch") or out.batch is None
    m = len(per_graph_pairs(Batch.from_data_list([d]))[0])  # the self-loop is a pair of its own
    assert c["dropped"].tolist() == [math.floor(0.4 * m)]
    assert out.edge_index.size(1) < d.edge_index.size(1)
    assert torch.equal(out.edge_attr, out.edge_index.T)
    # directed: every ordered pair is an element
    dd = make_batch([(8, [(i, i + 1) for i in range(7)] + [(1, 0)]), (5, [(0, 1), (2, 3)])], directed=True)
    out, c = edge_drop(dd, 0.5, undirected=False, generator=gen(0), return_counts=True)
    assert c["dropped"].tolist() == [4, 1]
    assert out.edge_index.size(1) == dd.edge_index.size(1) - 5
    assert_valid(out, 2, symmetric=False)


# --------------------------------------------------------------------------- edge add


def check_added(data: Data, out: Data, added: torch.Tensor, wanted: list[int], fill=None) -> None:
    before, after = per_graph_pairs(data), per_graph_pairs(out)
    lay = graph_layout(data)
    n = lay.node_counts.tolist()
    for g in range(len(before)):
        new = after[g] - before[g]
        proper = {e for e in before[g] if e[0] != e[1]}
        free = n[g] * (n[g] - 1) // 2 - len(proper)
        assert len(new) == min(wanted[g], free) == int(added[g])
        lo, hi = int(lay.ptr[g]), int(lay.ptr[g + 1])
        for a, b in new:
            assert a != b and lo <= a < hi and lo <= b < hi
    # new edges: two directions each, same attributes on both, copied from the same graph
    old = set(map(tuple, data.edge_attr.tolist()))
    tag = out.x[:, 0].long()
    graph_of_tag = lay.batch
    by_pair: dict[tuple[int, int], list[tuple[int, ...]]] = {}
    for (u, v), attr in zip(out.edge_index.T.tolist(), out.edge_attr.tolist()):
        a, b = int(tag[u]), int(tag[v])
        if (a, b) in old and tuple(attr) == (a, b):
            continue
        by_pair.setdefault((min(a, b), max(a, b)), []).append(tuple(attr))
        if fill is None:
            assert tuple(attr) in old and int(graph_of_tag[attr[0]]) == int(graph_of_tag[a])
        else:
            assert list(attr) == list(fill)
    assert sum(len(v) for v in by_pair.values()) == 2 * int(added.sum())
    assert all(len(v) == 2 and v[0] == v[1] for v in by_pair.values())


@settings(max_examples=40, deadline=None)
@given(specs=batches, p=st.sampled_from([0.0, 0.2, 0.5, 1.0, 3.0]), seed=st.integers(0, 2**31 - 1))
def test_edge_add_exact_counts_and_invariants(specs, p: float, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    out, counts = edge_add(data, p, generator=gen(seed), return_counts=True)
    assert_untouched(data, snap)
    assert_valid(out, len(specs))
    wanted = [math.floor(p * len(s)) for s in per_graph_pairs(data)]
    check_added(data, out, counts["added"], wanted)
    # every input edge column is still there, in order, before its graph's new edges
    lay_in, lay_out = graph_layout(data), graph_layout(out)
    for g in range(len(specs)):
        ein = data.edge_attr[lay_in.edge_ptr[g] : lay_in.edge_ptr[g + 1]]
        eout = out.edge_attr[lay_out.edge_ptr[g] : lay_out.edge_ptr[g] + ein.size(0)]
        assert torch.equal(ein, eout)


def test_edge_add_fill_and_large_sparse_graphs() -> None:
    # big sparse graphs take the rejection path; a triangle has no free pair at all
    specs = [(60, [(i, i + 1) for i in range(59)]), (3, [(0, 1), (1, 2), (0, 2)]), (40, [(0, 5), (5, 9)])]
    data = make_batch(specs)
    out, c = edge_add(data, 2.0, fill=torch.tensor([-1, -1]), generator=gen(5), return_counts=True)
    assert_valid(out, 3)
    assert c["added"].tolist() == [118, 0, 4]
    check_added(data, out, c["added"], [118, 0, 4], fill=[-1, -1])
    with pytest.raises(ValueError, match="fill of shape"):
        edge_add(data, 0.5, fill=torch.zeros(3), generator=gen(0))
    with pytest.raises(ValueError, match="fill must be None, 'marginal' or a value"):
        edge_add(data, 0.5, fill="mean")


def test_edge_add_marginal_fill_draws_each_column_from_the_batch() -> None:
    data = make_batch([(30, [(i, i + 1) for i in range(29)]), (20, [(i, 2 * i + 1) for i in range(19)])])
    data.edge_attr = torch.stack([data.edge_attr[:, 0], data.edge_attr[:, 1] + 1000], 1)
    out, c = edge_add(data, 3.0, fill="marginal", generator=gen(1), return_counts=True)
    assert_valid(out, 2)
    old = set(map(tuple, data.edge_attr.tolist()))
    lay_in, lay_out = graph_layout(data), graph_layout(out)
    new = []  # each graph's edges: its input edges first, then the new ones
    for g in range(2):
        start = int(lay_out.edge_ptr[g]) + int(lay_in.edge_counts[g])
        new += list(map(tuple, out.edge_attr[start : lay_out.edge_ptr[g + 1]].tolist()))
    assert len(new) == 2 * int(c["added"].sum()) > 100
    col0, col1 = set(data.edge_attr[:, 0].tolist()), set(data.edge_attr[:, 1].tolist())
    assert all(a in col0 and b in col1 for a, b in new)
    # columns are drawn independently: many new rows are not rows of any input edge
    assert sum(row not in old for row in new) > len(new) // 2


def test_edge_add_is_uniform_over_non_edges() -> None:
    # path on 6 nodes: 10 free pairs; adding 2 per draw puts each free pair in 2/10 of draws
    data = make_batch([(6, [(i, i + 1) for i in range(5)])])
    g = gen(0)
    hits: dict[tuple[int, int], int] = {}
    draws = 1000
    for _ in range(draws):
        out = edge_add(data, 0.5, generator=g)
        for pair in per_graph_pairs(out)[0] - per_graph_pairs(data)[0]:
            hits[pair] = hits.get(pair, 0) + 1
    assert len(hits) == 10
    freq = torch.tensor(list(hits.values()), dtype=torch.float) / draws
    assert torch.all((freq - 0.2).abs() < 0.05), freq
    # rejection path (many free pairs): 5 of 180 free pairs per draw
    data = make_batch([(20, [(i, i + 1) for i in range(10)])])
    counts = torch.zeros(20, 20)
    for _ in range(600):
        out = edge_add(data, 0.5, generator=g)
        for a, b in per_graph_pairs(out)[0] - per_graph_pairs(data)[0]:
            counts[a, b] += 1
    free = counts[torch.triu(torch.ones(20, 20, dtype=torch.bool), 1)]
    free = free[free > 0]
    assert free.numel() == 180 and int(free.sum()) == 600 * 5
    # chi-square over 180 cells (expected 600 * 5 / 180 = 16.7 each)
    expected = 600 * 5 / 180
    chi2 = float(((free - expected) ** 2 / expected).sum())
    assert 100 < chi2 < 280, chi2


def test_edge_add_directed() -> None:
    data = make_batch([(4, [(0, 1), (1, 2), (2, 3), (3, 0), (1, 0)]), (3, [(0, 1)])], directed=True)
    out, c = edge_add(data, 1.0, undirected=False, generator=gen(2), return_counts=True)
    assert c["added"].tolist() == [5, 1]
    assert_valid(out, 2, symmetric=False)
    before = per_graph_pairs(data, undirected=False)
    after = per_graph_pairs(out, undirected=False)
    for g in range(2):
        new = after[g] - before[g]
        assert len(new) == int(c["added"][g]) and all(a != b for a, b in new)
    # all 12 ordered pairs of the 4-node graph, minus 5 existing: asking for 10 gives 7
    out, c = edge_add(data, 2.0, undirected=False, generator=gen(2), return_counts=True)
    assert c["added"].tolist() == [7, 2]


# --------------------------------------------------------------------------- edge perturb


@settings(max_examples=40, deadline=None)
@given(specs=batches, p=st.sampled_from([0.1, 0.2, 0.5, 1.0]), seed=st.integers(0, 2**31 - 1))
def test_edge_perturb_drops_and_adds_per_graph(specs, p: float, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    out, c = edge_perturb(data, p, generator=gen(seed), return_counts=True)
    assert_untouched(data, snap)
    assert_valid(out, len(specs))
    before, after = per_graph_pairs(data), per_graph_pairs(out)
    n = graph_layout(data).node_counts.tolist()
    for g in range(len(specs)):
        k = math.floor(p * len(before[g]))
        assert len(before[g] - after[g]) == k == int(c["dropped"][g])
        new = after[g] - before[g]
        proper = {e for e in before[g] if e[0] != e[1]}
        assert len(new) == min(k, n[g] * (n[g] - 1) // 2 - len(proper)) == int(c["added"][g])
        assert all(a != b for a, b in new)
    # kept edges keep their own attributes; new edges carry attributes of the same graph
    own = (out.edge_attr == tags_of_edges(out)).all(1)
    assert int(own.sum()) == out.edge_index.size(1) - 2 * int(c["added"].sum())


def test_edge_perturb_add_ratio() -> None:
    data = make_batch([(30, [(i, i + 1) for i in range(29)]), (10, [(i, (i + 3) % 10) for i in range(10)])])
    out, c = edge_perturb(data, 0.1, add_p=0.3, generator=gen(0), return_counts=True)
    assert c["dropped"].tolist() == [2, 1] and c["added"].tolist() == [8, 3]
    assert_valid(out, 2)


# --------------------------------------------------------------------------- node drop


@settings(max_examples=40, deadline=None)
@given(specs=batches, p=st.sampled_from([0.0, 0.2, 0.5, 0.99]), seed=st.integers(0, 2**31 - 1))
def test_node_drop_exact_counts_and_induced_edges(specs, p: float, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    out, c = node_drop(data, p, generator=gen(seed), return_counts=True)
    assert_untouched(data, snap)
    assert_valid(out, len(specs))
    n_in = graph_layout(data).node_counts
    n_out = graph_layout(out).node_counts
    expected = [math.floor(p * n) for n in n_in.tolist()]
    assert (n_in - n_out).tolist() == expected == c["dropped"].tolist()
    assert torch.all(n_out >= 1)
    tag = out.x[:, 0].long()
    assert torch.all(tag[1:] > tag[:-1])  # kept nodes in input order
    assert torch.equal(out.x, data.x[tag])  # node attributes follow their nodes
    kept = set(tag.tolist())
    ref = [e for e in data.edge_attr.tolist() if e[0] in kept and e[1] in kept]
    assert out.edge_attr.tolist() == ref  # exactly the induced edges, in input order
    assert torch.equal(out.edge_attr, tags_of_edges(out))


def test_node_drop_frequency_matches_per_graph_loop_reference() -> None:
    # reference: a loop over graphs dropping int(p * n) nodes with random.sample
    import random

    specs = [(5, [(0, 1)]), (7, [(1, 2), (2, 3)]), (3, [(0, 2)])]
    data = make_batch(specs)
    p, draws = 0.5, 800
    ours = torch.zeros(data.num_nodes)
    ref = torch.zeros(data.num_nodes)
    rng = random.Random(0)
    g = gen(0)
    for _ in range(draws):
        kept = node_drop(data, p, generator=g).x[:, 0].long()
        ours[kept] += 1
        offset = 0
        for n, _ in specs:  # the per-graph loop the vectorised code replaces
            for i in rng.sample(range(n), n - int(p * n)):
                ref[offset + i] += 1
            offset += n
    assert torch.all((ours / draws - ref / draws).abs() < 0.08)
    expected = torch.tensor([3 / 5] * 5 + [4 / 7] * 7 + [2 / 3] * 3)
    assert torch.all((ours / draws - expected).abs() < 0.06)


def test_node_drop_single_data_keeps_num_nodes_right() -> None:
    d = make_graph(9, [(i, i + 1) for i in range(8)], 0, 0)
    out = node_drop(d, 0.4, generator=gen(0))
    assert out.num_nodes == 6 == out.x.size(0)
    assert torch.equal(out.edge_attr, tags_of_edges(out))


# --------------------------------------------------------------------------- feature mask


@settings(max_examples=30, deadline=None)
@given(specs=batches, p=st.sampled_from([0.0, 0.3, 1.0]), seed=st.integers(0, 2**31 - 1))
def test_feature_mask_replaces_exact_rows(specs, p: float, seed: int) -> None:
    data = make_batch(specs)
    snap = snapshot(data)
    out, c = feature_mask(data, p, value=torch.tensor([-1.0, -2.0]), generator=gen(seed), return_counts=True)
    assert_untouched(data, snap)
    assert_valid(out, len(specs))
    masked = (out.x == torch.tensor([-1.0, -2.0])).all(1)
    assert torch.all(masked | (out.x == data.x).all(1))
    per_graph = torch.bincount(data.batch[masked], minlength=len(specs))
    assert per_graph.tolist() == [math.floor(p * n) for n, _ in specs] == c["masked"].tolist()
    assert torch.equal(out.edge_index, data.edge_index) and torch.equal(out.edge_attr, data.edge_attr)


def test_feature_mask_noise_and_categorical() -> None:
    data = make_batch([(50, [(0, 1)]), (30, [(2, 3)])])
    out = feature_mask(data, 0.2, generator=gen(0))
    changed = ~(out.x == data.x).all(1)
    assert torch.bincount(data.batch[changed]).tolist() == [10, 6]
    big = feature_mask(make_batch([(4000, [])]), 0.5, mean=0.5, std=0.5, generator=gen(1))
    noise = big.x[(big.x[:, 0] != torch.arange(4000.0))]
    assert abs(float(noise.mean()) - 0.5) < 0.03 and abs(float(noise.std()) - 0.5) < 0.03
    cat = Data(x=torch.randint(0, 5, (6, 2)), edge_index=torch.tensor([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="categorical"):
        feature_mask(cat, 0.5)
    out = feature_mask(cat, 0.5, value=torch.tensor([119, 0]), generator=gen(0))
    assert int((out.x == torch.tensor([119, 0])).all(1).sum()) == 3


def test_feature_mask_same_seed() -> None:
    data = make_batch([(20, [(0, 1)])] * 3)
    a = feature_mask(data, 0.5, generator=gen(8))
    b = feature_mask(data, 0.5, generator=gen(8))
    assert torch.equal(a.x, b.x)


# --------------------------------------------------------------------------- errors, empty


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda d: edge_drop(d, 1.5), r"p must be in \[0, 1\]"),
        (lambda d: edge_add(d, -0.1), r"p must be >= 0"),
        (lambda d: edge_perturb(d, 0.2, add_p=-1.0), r"add_p must be >= 0"),
        (lambda d: node_drop(d, 1.0), r"p must be in \[0, 1\)"),
        (lambda d: feature_mask(d, 0.5, key="pos"), "no node attribute 'pos'"),
    ],
)
def test_bad_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(make_batch([(4, [(0, 1)])]))


def test_graph_without_edges_and_empty_graph_in_batch() -> None:
    data = Batch.from_data_list(
        [make_graph(3, [], 0, 0), make_graph(0, [], 3, 1), make_graph(4, [(0, 1), (2, 3)], 3, 2)]
    )
    for view in (
        lambda d: edge_drop(d, 0.5, generator=gen(0)),
        lambda d: edge_add(d, 1.0, generator=gen(0)),
        lambda d: edge_perturb(d, 0.5, generator=gen(0)),
        lambda d: node_drop(d, 0.5, generator=gen(0)),
        lambda d: feature_mask(d, 0.5, generator=gen(0)),
    ):
        out = view(data)
        assert_valid(out, 3)
        assert graph_layout(out).node_counts[1] == 0


# --------------------------------------------------------------------------- select / merge


def test_select_and_merge_graphs_round_trip() -> None:
    data = make_batch([(4, [(0, 1)]), (3, [(0, 2), (1, 2)]), (5, [(0, 4)]), (2, [(0, 1)])])
    mask = torch.tensor([True, False, True, False])
    part = select_graphs(data, mask)
    assert_valid_sub = [int(d.y) for d in part.to_data_list()]
    assert assert_valid_sub == [0, 2]
    rest = select_graphs(data, ~mask)
    merged = merge_graph_views(data, [rest, part], [torch.tensor([1, 3]), torch.tensor([0, 2])])
    for key in ("x", "edge_index", "edge_attr", "batch", "ptr", "y"):
        assert torch.equal(merged[key], data[key]), key
    assert_valid(merged, 4)


# --------------------------------------------------------------------------- real molecules


@pytest.fixture(scope="module")
def molbace() -> Batch:
    from gcl.data import load

    ds = load("ogbg-molbace")
    graphs = []
    offset = 0
    for i in range(128):
        d = ds[i]
        # tag nodes and edges as in the synthetic batches, keep the real bond features
        d.x = torch.cat([torch.arange(d.num_nodes).unsqueeze(1) + offset, d.x], 1)
        d.edge_attr = torch.cat([d.edge_index.T + offset, d.edge_attr], 1)
        d.y = torch.tensor([[i]])
        offset += d.num_nodes
        graphs.append(d)
    return Batch.from_data_list(graphs)


def test_molbace_batch_all_views(molbace: Batch) -> None:
    data = molbace
    snap = snapshot(data)
    m = [len(s) for s in per_graph_pairs(data)]
    n = graph_layout(data).node_counts.tolist()
    assert sum(m) * 2 == data.edge_index.size(1)  # symmetric, no self-loops

    out, c = edge_drop(data, 0.2, generator=gen(0), return_counts=True)
    assert_valid(out, 128)
    assert [len(s) for s in per_graph_pairs(out)] == [k - math.floor(0.2 * k) for k in m]
    assert torch.equal(out.edge_attr[:, :2], tags_of_edges(out))

    out, c = edge_perturb(data, 0.2, generator=gen(1), return_counts=True)
    assert_valid(out, 128)
    assert c["added"].tolist() == c["dropped"].tolist() == [math.floor(0.2 * k) for k in m]
    assert [len(s) for s in per_graph_pairs(out)] == m

    out, c = node_drop(data, 0.2, generator=gen(2), return_counts=True)
    assert_valid(out, 128)
    assert graph_layout(out).node_counts.tolist() == [k - math.floor(0.2 * k) for k in n]
    assert torch.equal(out.edge_attr[:, :2], tags_of_edges(out))
    assert torch.equal(out.x, data.x[out.x[:, 0]])

    token = torch.tensor([-1] + [119, 0, 0, 0, 0, 0, 0, 0, 0])
    out = feature_mask(data, 0.2, value=token, generator=gen(3))
    assert_valid(out, 128)
    masked = (out.x[:, 1:] == token[1:]).all(1)
    assert torch.bincount(data.batch[masked], minlength=128).tolist() == [math.floor(0.2 * k) for k in n]

    assert_untouched(data, snap)
    again = edge_perturb(data, 0.2, generator=gen(1))
    assert torch.equal(again.edge_index, edge_perturb(data, 0.2, generator=gen(1)).edge_index)


# --------------------------------------------------------------------------- regressions, devices


def test_node_level_x_when_nodes_equal_edges() -> None:
    # 4 nodes and 4 edge columns (two self-loops): x must still be read as node-level
    data = make_batch([(4, [(0, 0), (0, 1), (1, 1)])])
    lay = graph_layout(data)
    assert "x" in lay.node_keys and "edge_attr" in lay.edge_keys and "y" in lay.graph_keys
    out = feature_mask(data, 0.5, value=-1.0, generator=gen(0))
    assert int((out.x == -1).all(1).sum()) == 2
    out = node_drop(data, 0.5, generator=gen(0))
    assert out.x.size(0) == 2 and torch.equal(out.edge_attr, tags_of_edges(out))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    "view",
    [
        lambda d, g: edge_drop(d, 0.3, generator=g),
        lambda d, g: edge_add(d, 0.5, generator=g),
        lambda d, g: edge_perturb(d, 0.2, generator=g),
        lambda d, g: node_drop(d, 0.3, generator=g),
        lambda d, g: feature_mask(d, 0.3, generator=g),
    ],
)
def test_cuda_view_equals_cpu_view_with_a_cpu_generator(view) -> None:
    data = make_batch([(12, [(i, 3 * i + 1) for i in range(20)]), (30, [(i, i + 1) for i in range(29)])] * 8)
    cpu = view(data, gen(11))
    cuda = view(data.to("cuda"), gen(11))
    assert cuda.edge_index.is_cuda
    for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(cpu[key], cuda[key].cpu()), key
