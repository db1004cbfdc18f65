"""The two pair-table backends of the batched edge views (dense occupancy table and the
sorted-positions fallback for large graphs) must give identical views."""
from __future__ import annotations

import math
import random

import pytest
import torch

import gcl.views.graph as G
from test_graph_views import assert_valid, make_batch, per_graph_pairs

OPS = [(G.edge_drop, dict(p=0.3)), (G.edge_drop, dict(p=0.8)), (G.edge_add, dict(p=0.7)),
       (G.edge_add, dict(p=3.0)), (G.edge_perturb, dict(p=0.2)), (G.edge_perturb, dict(p=0.6, add_p=2.0))]


def _random_specs(rng: random.Random) -> list[tuple[int, list[tuple[int, int]]]]:
    return [(rng.randint(1, 14), [(rng.randint(0, 40), rng.randint(0, 40)) for _ in range(rng.randint(0, 40))])
            for _ in range(rng.randint(1, 6))]


def _views(data, undirected: bool, seed: int) -> list[tuple]:
    out = []
    for fn, kw in OPS:
        view, counts = fn(data, undirected=undirected, generator=torch.Generator().manual_seed(seed),
                          return_counts=True, **kw)
        out.append((view.edge_index, view.edge_attr, counts))
    return out


@pytest.fixture
def sorted_backend(monkeypatch):
    """Force the sorted-positions fallback for every graph."""
    def use() -> None:
        monkeypatch.setattr(G, "_DENSE_LINE_FACTOR", 0)
        monkeypatch.setattr(G, "_DENSE_LINE_MIN", -1)
    return use


@pytest.mark.parametrize("case", range(40))
def test_backends_give_identical_views(case, sorted_backend):
    rng = random.Random(case)
    directed = case % 3 == 0
    data = make_batch(_random_specs(rng), directed=directed)
    seed = rng.randint(0, 10**6)
    dense = _views(data, not directed, seed)
    sorted_backend()
    fallback = _views(data, not directed, seed)
    for (e1, a1, c1), (e2, a2, c2) in zip(dense, fallback):
        assert torch.equal(e1, e2) and torch.equal(a1, a2)
        assert c1.keys() == c2.keys() and all(torch.equal(c1[k], c2[k]) for k in c1)


@pytest.mark.parametrize("case", range(20))
def test_sorted_backend_keeps_perturbation_invariants(case, sorted_backend):
    rng = random.Random(1000 + case)
    specs = _random_specs(rng)
    data = make_batch(specs)
    sorted_backend()
    out, c = G.edge_perturb(data, 0.5, generator=torch.Generator().manual_seed(case), return_counts=True)
    assert_valid(out, len(specs))
    before, after = per_graph_pairs(data), per_graph_pairs(out)
    n = G.graph_layout(data).node_counts.tolist()
    for g in range(len(specs)):
        k = math.floor(0.5 * len(before[g]))
        assert len(before[g] - after[g]) == k == int(c["dropped"][g])
        proper = {e for e in before[g] if e[0] != e[1]}
        assert len(after[g] - before[g]) == min(k, n[g] * (n[g] - 1) // 2 - len(proper)) == int(c["added"][g])
