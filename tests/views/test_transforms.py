"""gcl.views.transforms: callable views, Compose and RandomChoice (per call / per graph)."""
from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from gcl.views.graph import edge_drop, edge_perturb, graph_layout, node_drop
from gcl.views.sequence import seq_crop, seq_mask, seq_random_augment, seq_reorder
from gcl.views.subgraph import grow_subgraph, khop_subgraph, random_walk_subgraph
from gcl.views.transforms import (
    Compose,
    EdgeAdd,
    EdgeDrop,
    EdgePerturb,
    FeatureMask,
    GrowSubgraph,
    KHopSubgraph,
    NodeDrop,
    RandomChoice,
    RandomWalkSubgraph,
    SeqCrop,
    SeqMask,
    SeqRandomAugment,
    SeqReorder,
)



def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_graph(n: int, offset: int, index: int) -> Data:
    """A ring with chords, tagged: x[:, 0] = global node id, edge_attr = tagged endpoints."""
    und = sorted({(min(i, (i + 1) % n), max(i, (i + 1) % n)) for i in range(n)} |
                 {(min(i, (i + 3) % n), max(i, (i + 3) % n)) for i in range(0, n, 2)})
    und = [(u, v) for u, v in und if u != v]
    edges = [(u, v) for u, v in und] + [(v, u) for u, v in und]
    ei = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).T
    x = torch.stack([torch.arange(n, dtype=torch.float) + offset, torch.ones(n)], 1)
    return Data(x=x, edge_index=ei, edge_attr=ei.T + offset, y=torch.tensor([[index]]), num_nodes=n)


def make_batch(sizes: list[int]) -> Batch:
    graphs, offset = [], 0
    for i, n in enumerate(sizes):
        graphs.append(make_graph(n, offset, i))
        offset += n
    return Batch.from_data_list(graphs)


def same_data(a: Data, b: Data) -> bool:
    keys = set(a.keys())
    return keys == set(b.keys()) and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in keys
    )


def assert_valid(out: Data, num_graphs: int) -> None:
    counts = torch.bincount(out.batch, minlength=num_graphs)
    assert out.ptr.tolist() == [0] + torch.cumsum(counts, 0).tolist()
    assert torch.equal(out.batch[out.edge_index[0]], out.batch[out.edge_index[1]])
    es = set(map(tuple, out.edge_index.T.tolist()))
    assert es == {(v, u) for u, v in es}
    tag = out.x[:, 0].long()
    for g, d in enumerate(out.to_data_list()):
        assert int(d.y) == g and d.num_nodes == int(counts[g])
        assert d.edge_index.numel() == 0 or int(d.edge_index.max()) < d.num_nodes
    return tag


# --------------------------------------------------------------------------- wrappers


@pytest.mark.parametrize(
    "view, fn",
    [
        (EdgeDrop(0.3), lambda d, g: edge_drop(d, 0.3, generator=g)),
        (EdgePerturb(0.2, add_p=0.4), lambda d, g: edge_perturb(d, 0.2, add_p=0.4, generator=g)),
        (NodeDrop(0.4), lambda d, g: node_drop(d, 0.4, generator=g)),
        (RandomWalkSubgraph(0.5, extra_nodes=1),
         lambda d, g: random_walk_subgraph(d, 0.5, extra_nodes=1, generator=g)),
        (KHopSubgraph(1), lambda d, g: khop_subgraph(d, 1, generator=g)),
        (GrowSubgraph(0.3, faithful_subgraph_bug=True),
         lambda d, g: grow_subgraph(d, 0.3, faithful_subgraph_bug=True, generator=g)),
    ],
)
def test_graph_views_equal_their_functions(view, fn) -> None:
    data = make_batch([9, 4, 12])
    assert same_data(view(data, generator=gen(7)), fn(data, gen(7)))
    assert same_data(view(data, generator=gen(7)), view(data, generator=gen(7)))
    assert type(view).__name__ in repr(view)


def test_edge_add_and_feature_mask_views() -> None:
    data = make_batch([9, 4, 12])
    out = EdgeAdd(0.5, fill=torch.tensor([-1, -1]))(data, generator=gen(0))
    assert_valid(out, 3)
    added = (out.edge_attr == -1).all(1)
    m = [len({(min(u, v), max(u, v)) for u, v in d.edge_index.T.tolist()}) for d in data.to_data_list()]
    assert torch.bincount(out.batch[out.edge_index[0, added]], minlength=3).tolist() == [
        2 * math.floor(0.5 * k) for k in m
    ]
    out = FeatureMask(0.5, value=-5.0)(data, generator=gen(0))
    assert torch.bincount(out.batch[(out.x == -5).all(1)], minlength=3).tolist() == [4, 2, 6]
    assert "FeatureMask(p=0.5, value=-5.0" in repr(FeatureMask(0.5, value=-5.0))


def test_views_work_without_a_generator_as_dataset_transforms() -> None:
    d = make_graph(10, 0, 0)
    torch.manual_seed(0)
    a = Compose([EdgeDrop(0.2), NodeDrop(0.2)])(d)
    torch.manual_seed(0)
    b = Compose([EdgeDrop(0.2), NodeDrop(0.2)])(d)
    assert same_data(a, b) and a.num_nodes == 8


# --------------------------------------------------------------------------- Compose


def test_compose_applies_in_order_with_one_generator() -> None:
    data = make_batch([9, 4, 12])
    g1 = gen(3)
    out = Compose([NodeDrop(0.3), EdgeDrop(0.5)])(data, generator=g1)
    g2 = gen(3)
    ref = edge_drop(node_drop(data, 0.3, generator=g2), 0.5, generator=g2)
    assert same_data(out, ref)
    assert repr(Compose([NodeDrop(0.3)])) == "Compose([NodeDrop(p=0.3)])"


# --------------------------------------------------------------------------- RandomChoice


def test_random_choice_per_call() -> None:
    data = make_batch([9, 4, 12])
    drop_nodes, mask_all = NodeDrop(0.5), FeatureMask(1.0, value=-1.0)
    choice = RandomChoice([drop_nodes, mask_all])
    g = gen(0)
    picked = []
    for _ in range(200):
        out = choice(data, generator=g)
        masked = bool((out.x == -1).all())
        # the whole batch got one augmentation
        assert masked != (out.num_nodes < data.num_nodes)
        picked.append(masked)
    assert 70 < sum(picked) < 130
    only_first = RandomChoice([drop_nodes, mask_all], p=[1.0, 0.0])
    assert all(only_first(data, generator=g).num_nodes < data.num_nodes for _ in range(20))
    a = choice(data, generator=gen(9))
    assert same_data(a, choice(data, generator=gen(9)))
    with pytest.raises(ValueError, match="non-negative weights"):
        RandomChoice([drop_nodes, mask_all], p=[1.0])
    with pytest.raises(ValueError, match="must not be empty"):
        RandomChoice([])


def test_random_choice_per_graph() -> None:
    sizes = [9, 4, 12, 7, 10, 6, 8, 5] * 3
    data = make_batch(sizes)
    before = {k: v.clone() for k, v in data.items() if isinstance(v, torch.Tensor)}
    choice = RandomChoice([NodeDrop(0.5), FeatureMask(1.0, value=-1.0)], per_graph=True)
    out = choice(data, generator=gen(1))
    assert all(torch.equal(data[k], v) for k, v in before.items())
    assert_valid(out, len(sizes))
    kinds = []
    for g, (d, n) in enumerate(zip(out.to_data_list(), sizes)):
        masked = bool((d.x == -1).all())
        if masked:  # FeatureMask(1.0): every node kept, every row replaced
            assert d.num_nodes == n
        else:  # NodeDrop(0.5): nodes of this very graph, tags in its range
            assert d.num_nodes == n - math.floor(0.5 * n)
            lo = int(data.ptr[g])
            assert torch.all((d.x[:, 0] >= lo) & (d.x[:, 0] < lo + n))
            assert torch.equal(d.edge_attr, d.x[:, 0].long()[d.edge_index].T)
        kinds.append(masked)
    assert 0 < sum(kinds) < len(sizes)  # both augmentations used within one batch
    assert same_data(out, choice(data, generator=gen(1)))
    # a plain Data is one graph: per_graph changes nothing there
    single = make_graph(10, 0, 0)
    per_call = RandomChoice(choice.transforms)
    assert same_data(choice(single, generator=gen(2)), per_call(single, generator=gen(2)))


def test_random_choice_per_graph_on_molecules() -> None:
    from gcl.data import load

    ds = load("ogbg-molbace")
    graphs = []
    for i in range(64):
        d = ds[i]
        d.y = torch.tensor([[i]])
        graphs.append(d)
    data = Batch.from_data_list(graphs)
    n = graph_layout(data).node_counts.tolist()
    views = RandomChoice([NodeDrop(0.2), GrowSubgraph(0.2, extra_nodes=1)], per_graph=True)
    out = views(data, generator=gen(0))
    counts = graph_layout(out).node_counts.tolist()
    for d, g in zip(out.to_data_list(), range(64)):
        assert int(d.y) == g
        assert d.edge_index.numel() == 0 or int(d.edge_index.max()) < d.num_nodes
        assert d.edge_attr.size(0) == d.edge_index.size(1)
    dropped = sum(c == k - math.floor(0.2 * k) for c, k in zip(counts, n))
    grown = sum(c <= math.floor(0.2 * k) + 1 for c, k in zip(counts, n))
    assert all(c == k - math.floor(0.2 * k) or c <= math.floor(0.2 * k) + 1 for c, k in zip(counts, n))
    assert dropped > 10 and grown > 10


# --------------------------------------------------------------------------- sequences


def test_sequence_views_equal_their_functions() -> None:
    seqs = torch.zeros(50, 10, dtype=torch.long)
    lengths = torch.arange(50) % 11
    cols = torch.arange(10)
    seqs = torch.where(cols >= 10 - lengths.unsqueeze(1), cols + 1 + torch.arange(50).unsqueeze(1), 0)
    assert torch.equal(SeqCrop()(seqs, generator=gen(0)), seq_crop(seqs, 0.5, generator=gen(0)))
    assert torch.equal(SeqMask(77)(seqs, generator=gen(0)), seq_mask(seqs, 77, 0.5, generator=gen(0)))
    assert torch.equal(SeqReorder()(seqs, generator=gen(0)), seq_reorder(seqs, 0.8, generator=gen(0)))
    assert torch.equal(
        SeqRandomAugment(77)(seqs, generator=gen(0)), seq_random_augment(seqs, 77, generator=gen(0))
    )
    before = seqs.clone()
    out = RandomChoice([SeqCrop(), SeqMask(77), SeqReorder()])(seqs, generator=gen(4))
    assert torch.equal(seqs, before) and out.shape == seqs.shape
    assert repr(SeqMask(77)) == "SeqMask(mask_token=77, gamma=0.5, pad=0)"


# --------------------------------------------------------------------------- one big graph


def test_single_graph_views_on_cora() -> None:
    from gcl.data import load

    cora = load("cora")
    n, e = cora.num_nodes, cora.edge_index.size(1)
    m = e // 2
    g = gen(0)
    out, c = edge_perturb(cora, 0.2, generator=g, return_counts=True)
    es = set(map(tuple, out.edge_index.T.tolist()))
    assert es == {(v, u) for u, v in es} and len(es) == e
    assert c["dropped"].tolist() == c["added"].tolist() == [math.floor(0.2 * m)]
    out = NodeDrop(0.2)(cora, generator=g)
    assert out.num_nodes == n - math.floor(0.2 * n) == out.y.numel() == out.train_mask.numel()
    out = FeatureMask(0.3)(cora, generator=g)
    assert int((out.x != cora.x).any(1).sum()) == math.floor(0.3 * n)
    for view in (RandomWalkSubgraph(0.1), GrowSubgraph(0.1), KHopSubgraph(2)):
        out = view(cora, generator=g)
        assert 1 <= out.num_nodes <= n and out.x.size(0) == out.y.numel() == out.test_mask.numel()
        assert out.edge_index.numel() == 0 or int(out.edge_index.max()) < out.num_nodes
    assert cora.num_nodes == n and cora.edge_index.size(1) == e
