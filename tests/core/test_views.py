"""gcl.views.functional: drop_edge and mask_feature invariants."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.views.functional import drop_edge, mask_feature


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_edges(seed: int, num_nodes: int = 50, num_edges: int = 300) -> torch.Tensor:
    return torch.randint(0, num_nodes, (2, num_edges), generator=gen(seed))


def symmetric_edges(num_nodes: int, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """Both directions of every pair (a self-loop once), in a shuffled order."""
    pairs = sorted({(min(u, v), max(u, v)) for u, v in pairs})
    edges = [(u, v) for u, v in pairs] + [(v, u) for u, v in pairs if u != v]
    if not edges:
        return torch.empty(2, 0, dtype=torch.long)
    ei = torch.tensor(edges, dtype=torch.long).T
    return ei[:, torch.randperm(ei.size(1), generator=gen(num_nodes))]


def edge_set(ei: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, ei.T.tolist()))


# --------------------------------------------------------------------------- drop_edge


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_edge_keeps_exactly_the_edges_whose_coin_passed(p: float) -> None:
    ei = random_edges(0)
    out, attr = drop_edge(ei, p, generator=gen(7))
    coins = torch.rand(ei.size(1), generator=gen(7)) >= p
    assert 0 < int(coins.sum()) < ei.size(1)
    assert torch.equal(out, ei[:, coins])
    assert attr is None


def test_drop_edge_drops_about_p_of_the_edges() -> None:
    ei = random_edges(1, num_nodes=500, num_edges=20000)
    out, _ = drop_edge(ei, 0.3, generator=gen(1))
    assert abs(1 - out.size(1) / ei.size(1) - 0.3) < 0.02
    sym = symmetric_edges(500, random_edges(2, num_nodes=500, num_edges=10000).T.tolist())
    out, _ = drop_edge(sym, 0.3, force_undirected=True, generator=gen(1))
    assert abs(1 - out.size(1) / sym.size(1) - 0.3) < 0.02


@settings(max_examples=60, deadline=None)
@given(
    num_nodes=st.integers(1, 12),
    pairs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=40),
    p=st.floats(0.0, 0.95),
    seed=st.integers(0, 2**31 - 1),
)
def test_force_undirected_keeps_symmetric_graphs_symmetric(
    num_nodes: int, pairs: list[tuple[int, int]], p: float, seed: int
) -> None:
    pairs = [(u % num_nodes, v % num_nodes) for u, v in pairs]
    ei = symmetric_edges(num_nodes, pairs)
    ids = torch.arange(ei.size(1))
    out, kept = drop_edge(ei, p, force_undirected=True, edge_attr=ids, generator=gen(seed))
    # the attribute (the edge's position) tells which input edges were kept, in order
    assert torch.equal(out, ei[:, kept])
    assert torch.all(kept[1:] > kept[:-1])
    kept_set = edge_set(out)
    assert kept_set == {(v, u) for u, v in kept_set}
    assert out.size(1) == len(kept_set)  # no edge duplicated


def test_force_undirected_one_coin_per_pair() -> None:
    ei = symmetric_edges(30, random_edges(3, num_nodes=30, num_edges=120).T.tolist())
    out, _ = drop_edge(ei, 0.5, force_undirected=True, generator=gen(11))
    pairs = {(min(u, v), max(u, v)) for u, v in edge_set(ei)}
    kept = {(min(u, v), max(u, v)) for u, v in edge_set(out)}
    assert 0 < len(kept) < len(pairs)
    # a kept pair keeps both directions; a dropped pair loses both
    for u, v in pairs:
        assert ((u, v) in edge_set(out)) == ((v, u) in edge_set(out)) == ((u, v) in kept)


def test_edge_attr_follows_its_edges() -> None:
    ei = random_edges(4)
    for force in (False, True):
        src = symmetric_edges(50, ei.T.tolist()) if force else ei
        a = torch.randn(src.size(1), 3)
        a[:, 0] = (src[0] * 1000 + src[1]).float()  # the edge, encoded in its attribute
        out, out_attr = drop_edge(src, 0.4, force_undirected=force, edge_attr=a, generator=gen(5))
        assert out_attr.shape == (out.size(1), 3)
        assert torch.equal(out_attr[:, 0], (out[0] * 1000 + out[1]).float())
        assert out.size(1) < src.size(1)


@pytest.mark.parametrize("force", [False, True])
def test_drop_edge_leaves_the_input_untouched(force: bool) -> None:
    ei = symmetric_edges(40, random_edges(6, num_nodes=40).T.tolist())
    attr = torch.randn(ei.size(1), 2)
    ei_before, attr_before = ei.clone(), attr.clone()
    out, out_attr = drop_edge(ei, 0.5, force_undirected=force, edge_attr=attr, generator=gen(0))
    assert torch.equal(ei, ei_before) and torch.equal(attr, attr_before)
    out.fill_(-1)
    out_attr.fill_(0)
    assert torch.equal(ei, ei_before) and torch.equal(attr, attr_before)


@pytest.mark.parametrize("force", [False, True])
def test_same_seed_same_view(force: bool) -> None:
    ei = symmetric_edges(40, random_edges(8, num_nodes=40).T.tolist())
    a, _ = drop_edge(ei, 0.5, force_undirected=force, generator=gen(123))
    b, _ = drop_edge(ei, 0.5, force_undirected=force, generator=gen(123))
    c, _ = drop_edge(ei, 0.5, force_undirected=force, generator=gen(124))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("force", [False, True])
def test_p_zero_keeps_everything_as_a_copy(force: bool) -> None:
    ei = symmetric_edges(20, random_edges(9, num_nodes=20).T.tolist())
    attr = torch.randn(ei.size(1))
    out, out_attr = drop_edge(ei, 0.0, force_undirected=force, edge_attr=attr, generator=gen(0))
    assert torch.equal(out, ei) and torch.equal(out_attr, attr)
    out[0, 0] = -5
    assert ei[0, 0] != -5


def test_drop_edge_empty_graph() -> None:
    empty = torch.empty(2, 0, dtype=torch.long)
    for force in (False, True):
        out, _ = drop_edge(empty, 0.5, force_undirected=force, generator=gen(0))
        assert out.shape == (2, 0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_drop_edge_invalid_p(p: float) -> None:
    with pytest.raises(ValueError, match=r"drop probability p must be in \[0, 1\)"):
        drop_edge(random_edges(0), p)


# --------------------------------------------------------------------------- mask_feature


def test_mask_feature_column_mode_zeroes_whole_columns() -> None:
    x = torch.rand(30, 64) + 1.0  # no zero entries of its own
    before = x.clone()
    out = mask_feature(x, 0.4, mode="column", generator=gen(2))
    assert torch.equal(x, before)
    zero_cols = (out == 0).all(dim=0)
    kept_cols = (out == x).all(dim=0)
    assert torch.all(zero_cols | kept_cols)  # every column wholly zero or wholly kept
    assert 10 < int(zero_cols.sum()) < 54
    expected_kept = torch.rand(64, generator=gen(2)) >= 0.4
    assert torch.equal(kept_cols, expected_kept)


def test_mask_feature_entry_mode_zeroes_entries() -> None:
    x = torch.rand(30, 64) + 1.0
    before = x.clone()
    out = mask_feature(x, 0.4, mode="entry", generator=gen(3))
    assert torch.equal(x, before)
    zeroed = out == 0
    assert torch.all(zeroed | (out == x))
    assert abs(zeroed.float().mean().item() - 0.4) < 0.05
    # entries, not columns: no column is wholly zero and most columns are partly zero
    assert not zeroed.all(dim=0).any()
    assert zeroed.any(dim=0).float().mean() > 0.9
    expected_kept = (torch.rand(30 * 64, generator=gen(3)) >= 0.4).view(30, 64)
    assert torch.equal(~zeroed, expected_kept)


def test_mask_feature_p_zero_and_seed() -> None:
    x = torch.randn(10, 8)
    assert torch.equal(mask_feature(x, 0.0, generator=gen(0)), x)
    for mode in ("column", "entry"):
        a = mask_feature(x, 0.5, mode=mode, generator=gen(9))
        b = mask_feature(x, 0.5, mode=mode, generator=gen(9))
        assert torch.equal(a, b)


@pytest.mark.parametrize("p", [-0.5, 1.0, 2.0])
def test_mask_feature_invalid_p(p: float) -> None:
    with pytest.raises(ValueError, match=r"mask probability p must be in \[0, 1\)"):
        mask_feature(torch.randn(4, 4), p)


def test_mask_feature_invalid_mode() -> None:
    with pytest.raises(ValueError, match="mode must be 'column' or 'entry', got 'row'"):
        mask_feature(torch.randn(4, 4), 0.5, mode="row")
