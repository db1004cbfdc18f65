"""gcl.views.interaction: SGL edge / node / per-layer dropout against a dense NumPy reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.data.interactions import InteractionGraph
from gcl.views.interaction import (
    InteractionViews,
    edge_dropout_adjacency,
    node_dropout_adjacency,
    random_walk_adjacencies,
)



def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny_graph(seed: int = 0, n_users: int = 9, n_items: int = 7, n_pairs: int = 30) -> InteractionGraph:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users - 1, n_pairs)  # the last user has no interaction
    items = rng.integers(0, n_items, n_pairs)
    test = (np.array([0]), np.array([0]))
    return InteractionGraph.from_pairs(n_users, n_items, (users, items), test)


def dense_R(graph: InteractionGraph) -> np.ndarray:
    return graph.train.to_dense().numpy().astype(np.float64)


def reference_adjacency(R: np.ndarray) -> np.ndarray:
    """D^-1/2 [[0, R], [R^T, 0]] D^-1/2 with zero rows for degree-0 nodes, dense float64."""
    I, J = R.shape
    A = np.zeros((I + J, I + J))
    A[:I, I:] = R
    A[I:, :I] = R.T
    d = A.sum(1)
    inv = np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1)), 0.0)
    return inv[:, None] * A * inv[None, :]


def check_csr(adj: torch.Tensor, n: int) -> np.ndarray:
    assert adj.layout == torch.sparse_csr and adj.shape == (n, n) and adj.dtype == torch.float32
    crow, col = adj.crow_indices(), adj.col_indices()
    assert torch.all(crow[1:] >= crow[:-1])
    for r in range(n):  # columns strictly increasing within each row
        c = col[crow[r]: crow[r + 1]]
        assert torch.all(c[1:] > c[:-1])
    dense = adj.to_dense().numpy().astype(np.float64)
    assert np.all(np.isfinite(dense))
    np.testing.assert_allclose(dense, dense.T, atol=0)
    return dense


def subgraph_of(dense: np.ndarray, I: int) -> np.ndarray:
    """The binary R' whose normalised adjacency ``dense`` is."""
    return (dense[:I, I:] != 0).astype(np.float64)


def test_no_dropout_equals_the_graph_normalized_adjacency() -> None:
    g = tiny_graph()
    views = InteractionViews(g)
    full = views.adjacency()
    ref = g.normalized_adjacency()
    assert torch.equal(full.crow_indices(), ref.crow_indices())
    assert torch.equal(full.col_indices(), ref.col_indices())
    assert torch.equal(full.values(), ref.values())
    np.testing.assert_allclose(check_csr(full, g.n_nodes), reference_adjacency(dense_R(g)), atol=1e-6)
    ed = views.edge_dropout(0.0, gen(0))
    assert torch.equal(ed.values(), ref.values())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), ratio=st.floats(0.0, 0.95))
def test_edge_dropout_matches_the_dense_reference(seed: int, ratio: float) -> None:
    g = tiny_graph(seed % 50)
    R = dense_R(g)
    adj = edge_dropout_adjacency(g, ratio, generator=gen(seed))
    dense = check_csr(adj, g.n_nodes)
    Rp = subgraph_of(dense, g.n_users)
    assert Rp.sum() == math.floor((1.0 - ratio) * g.n_train)
    assert np.all(Rp <= R)  # only existing interactions, both directions together
    np.testing.assert_allclose(dense, reference_adjacency(Rp), rtol=1e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), ratio=st.floats(0.0, 0.95))
def test_node_dropout_matches_the_dense_reference(seed: int, ratio: float) -> None:
    g = tiny_graph(seed % 50)
    R = dense_R(g)
    views = InteractionViews(g)
    keep_u, keep_i = views.node_keep_masks(ratio, gen(seed))
    assert int((~keep_u).sum()) == math.floor(ratio * g.n_users)
    assert int((~keep_i).sum()) == math.floor(ratio * g.n_items)
    adj = views.node_dropout(ratio, gen(seed))  # same generator state -> same drops
    dense = check_csr(adj, g.n_nodes)
    Rp = R * keep_u.numpy()[:, None] * keep_i.numpy()[None, :]
    np.testing.assert_allclose(dense, reference_adjacency(Rp), rtol=1e-6, atol=1e-7)
    # dropped users and items are zero rows
    dropped = np.concatenate([~keep_u.numpy(), ~keep_i.numpy()])
    assert np.all(dense[dropped] == 0)
    np.testing.assert_allclose(
        node_dropout_adjacency(g, ratio, gen(seed)).to_dense().numpy(), dense.astype(np.float32)
    )


def test_random_walk_gives_independent_layers_and_propagates_like_dense() -> None:
    g = tiny_graph(3, n_users=20, n_items=15, n_pairs=80)
    layers = random_walk_adjacencies(g, 0.3, num_layers=3, generator=gen(1))
    assert len(layers) == 3
    patterns = [subgraph_of(check_csr(a, g.n_nodes), g.n_users) for a in layers]
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert not np.array_equal(patterns[a], patterns[b])
    # LightGCN propagation through the per-layer graphs equals the dense products
    E = torch.randn(g.n_nodes, 4, generator=gen(2), dtype=torch.float32)
    h, h_ref = E, E.double().numpy()
    for a, Rp in zip(layers, patterns):
        h = a @ h
        h_ref = reference_adjacency(Rp) @ h_ref
    np.testing.assert_allclose(h.numpy(), h_ref, rtol=1e-5, atol=1e-6)
    # the generic per-layer form: ED / ND share one adjacency, RW does not
    views = InteractionViews(g)
    ed = views.view("ed", 0.2, num_layers=3, generator=gen(0))
    assert ed[0] is ed[1] is ed[2]
    rw = views.view("RW", 0.2, num_layers=3, generator=gen(0))
    assert len({id(a) for a in rw}) == 3


def test_reproducible_fresh_and_uniform() -> None:
    g = tiny_graph(4, n_users=12, n_items=10, n_pairs=40)
    views = InteractionViews(g)
    a = views.edge_dropout(0.25, gen(5))
    b = views.edge_dropout(0.25, gen(5))
    assert torch.equal(a.col_indices(), b.col_indices()) and torch.equal(a.values(), b.values())
    shared = gen(6)
    first, second = views.edge_dropout(0.25, shared), views.edge_dropout(0.25, shared)
    assert not torch.equal(first.to_dense(), second.to_dense())  # two independent draws
    # every interaction is kept with probability k / n
    n, k = g.n_train, math.floor(0.75 * g.n_train)
    rounds = 600
    g_ = gen(7)
    freq = torch.stack([views.edge_keep_mask(0.25, g_) for _ in range(rounds)]).float().mean(0)
    assert torch.allclose(freq, torch.full_like(freq, k / n), atol=0.08)
    # every user is dropped with probability floor(0.3 I) / I
    drops = torch.stack([~views.node_keep_masks(0.3, g_)[0] for _ in range(rounds)]).float().mean(0)
    assert torch.allclose(drops, torch.full_like(drops, math.floor(0.3 * 12) / 12), atol=0.08)


def test_accepts_a_csr_matrix_and_leaves_the_graph_untouched() -> None:
    g = tiny_graph(8)
    before = g.train.to_dense().clone()
    a = InteractionViews(g.train).edge_dropout(0.5, gen(0))
    b = InteractionViews(g).edge_dropout(0.5, gen(0))
    assert torch.equal(a.to_dense(), b.to_dense())
    assert torch.equal(g.train.to_dense(), before)


def test_bad_arguments() -> None:
    g = tiny_graph()
    views = InteractionViews(g)
    with pytest.raises(ValueError, match="ratio"):
        views.edge_dropout(1.0)
    with pytest.raises(ValueError, match="ratio"):
        views.node_dropout(-0.1)
    with pytest.raises(ValueError, match="num_layers"):
        views.random_walk(0.1, 0)
    with pytest.raises(ValueError, match="kind"):
        views.view("walk", 0.1)
    with pytest.raises(ValueError, match="graph"):
        InteractionViews(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="keep"):
        views.adjacency(torch.ones(3, dtype=torch.bool))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_with_a_cpu_generator() -> None:
    g = tiny_graph(5)
    cpu = InteractionViews(g)
    gpu = InteractionViews(g.to("cuda"))
    for name in ("edge_dropout", "node_dropout"):
        a = getattr(cpu, name)(0.3, gen(1))
        b = getattr(gpu, name)(0.3, gen(1))
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.to_dense().cpu(), a.to_dense())
