"""gcl.views.dsla: D-SLA candidates against a plain per-graph Python reference."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from gcl.views.dsla import (
    MASK_ATOM_TYPE,
    OFFICIAL_BOND_TYPE_PROBS,
    DSLAPerturbation,
    dsla_candidates,
    edge_attr_marginals,
)



def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- inputs


def make_graph(n: int, pairs: list[tuple[int, int]], seed: int) -> Data:
    """A symmetric graph on ``n`` nodes with 2-column integer node and edge features."""
    und = sorted({(min(u, v), max(u, v)) for u, v in pairs if u != v and max(u, v) < n})
    g = gen(seed)
    x = torch.stack([torch.randint(0, 119, (n,), generator=g), torch.randint(0, 3, (n,), generator=g)], 1)
    if und:
        ei = torch.tensor(und, dtype=torch.long).T
        attr = torch.stack([torch.randint(0, 4, (len(und),), generator=g),
                            torch.randint(0, 3, (len(und),), generator=g)], 1)
        ei = torch.cat([ei, ei.flip(0)], 1)
        attr = torch.cat([attr, attr])
        perm = torch.randperm(ei.size(1), generator=g)
        ei, attr = ei[:, perm], attr[perm]
    else:
        ei = torch.empty(2, 0, dtype=torch.long)
        attr = torch.empty(0, 2, dtype=torch.long)
    return Data(x=x, edge_index=ei, edge_attr=attr, num_nodes=n)


def random_batch(seed: int, num_graphs: int = 12, max_nodes: int = 14) -> Batch:
    g = gen(seed)
    graphs = []
    for k in range(num_graphs):
        n = int(torch.randint(1, max_nodes + 1, (1,), generator=g))
        m = int(torch.randint(0, 2 * n + 1, (1,), generator=g))
        pairs = torch.randint(0, n, (m, 2), generator=g).tolist()
        graphs.append(make_graph(n, [tuple(p) for p in pairs], seed * 1000 + k))
    return Batch.from_data_list(graphs)


# --------------------------------------------------------------------------- reference


def undirected(ei: torch.Tensor) -> set[tuple[int, int]]:
    return {(min(u, v), max(u, v)) for u, v in ei.T.tolist()}


def ball(n_edges: set[tuple[int, int]], center: int, hops: int) -> set[int]:
    adj: dict[int, set[int]] = {}
    for u, v in n_edges:
        adj.setdefault(u, set()).add(v)
        adj.setdefault(v, set()).add(u)
    seen, frontier = {center}, {center}
    for _ in range(hops):
        frontier = {w for u in frontier for w in adj.get(u, ())} - seen
        seen |= frontier
    return seen


def check_candidates(batch: Batch, out, *, num_candidates: int = 5, num_hops: int = 3,
                     mask_ratio: float = 0.8, edit_ratio: float = 0.2, strong: bool = True,
                     strong_edit_ratio: float = 0.8, faithful_readd: bool = False,
                     edit_unit: str = "swaps") -> None:
    """Every invariant of the spec, graph by graph, with Python sets."""
    C, N, B = num_candidates, batch.num_nodes, batch.num_graphs
    ptr = batch.ptr.tolist()
    ei = out.edge_index
    assert out.num_candidates == C and out.batch_size == B
    assert out.graph_id.tolist() == [c * B + int(b) for c in range(C) for b in batch.batch.tolist()]
    # global structure: symmetric, no self-loops, no duplicates, no cross-graph edges
    pairs = list(map(tuple, ei.T.tolist()))
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(v, u) for u, v in pairs}
    assert all(u != v for u, v in pairs)
    assert torch.equal(out.graph_id[ei[0]], out.graph_id[ei[1]])
    half = ei.size(1) // 2
    assert torch.equal(ei[:, :half], ei[:, half:].flip(0)) and bool((ei[0, :half] < ei[1, :half]).all())
    assert torch.equal(out.edge_attr[:half], out.edge_attr[half:])
    # aligned attributes: both directions equal
    attr_of = {p: tuple(a) for p, a in zip(pairs, out.edge_attr.tolist())}
    assert all(attr_of[(u, v)] == attr_of[(v, u)] for u, v in pairs)
    in_attr = {(min(u, v), max(u, v)): tuple(a) for (u, v), a in
               zip(map(tuple, batch.edge_index.T.tolist()), batch.edge_attr.tolist())}
    token = [MASK_ATOM_TYPE] + [0] * (batch.x.size(1) - 1)
    for g in range(B):
        lo_, hi_ = ptr[g], ptr[g + 1]
        n = hi_ - lo_
        loc = lambda e: {(u - lo_, v - lo_) for u, v in e}  # noqa: E731
        sub = batch.edge_index[:, (batch.edge_index[0] >= lo_) & (batch.edge_index[0] < hi_)]
        E0 = loc(undirected(sub))
        m = len(E0)
        center = int(out.center[g])
        if n == 0:
            assert center == -1
            continue
        deg = [0] * n
        for u, v in E0:
            deg[u] += 1
            deg[v] += 1
        assert lo_ <= center < hi_
        if m:
            assert deg[center - lo_] >= 1
        S = ball(E0, center - lo_, num_hops)
        assert {i - lo_ for i in range(lo_, hi_) if out.in_ball[i]} == S
        mS = sum(1 for u, v in E0 if u in S and v in S)
        for c in range(C):
            gid = c * B + g
            base = c * N + lo_
            sel = (ei[0] >= base) & (ei[0] < base + n)
            Ec = {(u - base, v - base) for u, v in undirected(ei[:, sel])}
            # masking
            whole = strong and c == C - 1
            elig = set(range(n)) if whole else S
            msk = {i for i in range(n) if out.masked[base + i]}
            assert msk <= elig and len(msk) == math.floor(mask_ratio * len(elig))
            xs = out.x[base: base + n]
            for i in range(n):
                want = token if i in msk else batch.x[lo_ + i].tolist()
                assert xs[i].tolist() == want
            # edits
            deleted, added = E0 - Ec, Ec - E0
            assert int(out.n_deleted[gid]) == len(deleted)
            assert int(out.n_added[gid]) == len(added)
            assert len(E0 ^ Ec) == int(out.n_deleted[gid] + out.n_added[gid])
            for u, v in Ec & E0:  # kept edges keep their attributes (a re-added one may not)
                if not faithful_readd:
                    assert attr_of[(base + u, base + v)] == in_attr[(lo_ + u, lo_ + v)]
            for u, v in added:
                t, d = attr_of[(base + u, base + v)]
                assert 0 <= t <= 3 and 0 <= d <= 2 and (d == 0 or t in (0, 3))
            if c == 0:
                assert Ec == E0 and int(out.target[gid]) == 0 and float(out.edit[gid]) == 0
                continue
            if whole:
                p = max(1, math.floor(strong_edit_ratio * m))
                m_el, pool = m, n
            else:
                p = max(1, math.floor(edit_ratio * c * mS))
                m_el, pool = mS, len(S)
                assert all(u in S and v in S for u, v in E0 ^ Ec)
            assert int(out.target[gid]) == p
            free = pool * (pool - 1) // 2 - m_el
            n_del_sel = min(p, m_el)
            if not faithful_readd:
                n_add_sel = min(p, free)
                assert len(deleted) == n_del_sel and len(added) == n_add_sel
                claimed = len(deleted) + len(added)
            else:
                n_add_sel = min(p, free + n_del_sel)
                readd = n_del_sel - len(deleted)
                assert readd >= 0 and len(added) == n_add_sel - readd
                claimed = n_del_sel + n_add_sel
            assert bool(out.capped[gid]) == (n_del_sel < p or n_add_sel < p)
            want_e = claimed if edit_unit == "edits" else claimed / 2
            assert float(out.edit[gid]) == pytest.approx(want_e)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_batches_match_the_reference(seed: int) -> None:
    batch = random_batch(seed)
    out = dsla_candidates(batch, generator=gen(seed))
    check_candidates(batch, out)
    assert float(out.edit.sum()) > 0


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_candidates=st.integers(2, 6),
    num_hops=st.integers(0, 3),
    mask_ratio=st.sampled_from([0.0, 0.3, 0.8, 1.0]),
    edit_ratio=st.sampled_from([0.1, 0.2, 0.35]),
    strong=st.booleans(),
    faithful=st.booleans(),
    unit=st.sampled_from(["swaps", "edits"]),
)
def test_invariants_hold_for_any_setting(seed: int, num_candidates: int, num_hops: int, mask_ratio: float,
                                         edit_ratio: float, strong: bool, faithful: bool, unit: str) -> None:
    batch = random_batch(seed % 10_000, num_graphs=6, max_nodes=9)
    kw = dict(num_candidates=num_candidates, num_hops=num_hops, mask_ratio=mask_ratio,
              edit_ratio=edit_ratio, strong=strong, faithful_readd=faithful, edit_unit=unit)
    out = dsla_candidates(batch, generator=gen(seed), **kw)
    check_candidates(batch, out, **kw)


def test_saturated_and_degenerate_graphs_are_capped_exactly() -> None:
    complete = make_graph(5, [(u, v) for u in range(5) for v in range(u + 1, 5)], 1)
    triangle_minus = make_graph(3, [(0, 1), (1, 2)], 2)  # one free pair in the ball
    single = make_graph(1, [], 3)
    bondless = make_graph(3, [], 4)
    pair = make_graph(2, [(0, 1)], 5)
    batch = Batch.from_data_list([complete, triangle_minus, single, bondless, pair])
    for seed in range(20):
        out = dsla_candidates(batch, generator=gen(seed))
        check_candidates(batch, out)
        B = 5
        # the complete graph: deletions happen, additions can only refill deleted pairs -> none
        assert out.n_added.view(5, B)[1:, 0].tolist() == [0, 0, 0, 0]
        assert out.capped.view(5, B)[1:, 0].all()
        # a 2-atom ball: delete the bond, nothing may be added (the deleted pair is forbidden)
        assert out.n_deleted.view(5, B)[1:4, 4].tolist() == [1, 1, 1]
        assert out.n_added.view(5, B)[1:, 4].tolist() == [0, 0, 0, 0]
        # bond-less graph: its strong candidate gains one bond, the ball (1 atom) nothing
        assert out.n_added.view(5, B)[1:4, 3].tolist() == [0, 0, 0]
        assert int(out.n_added.view(5, B)[4, 3]) == 1


def test_faithful_readd_can_bring_a_deleted_edge_back() -> None:
    # a 2-atom molecule: the official sampling deletes the bond and may only re-add it
    batch = Batch.from_data_list([make_graph(2, [(0, 1)], 0)] * 40)
    out = dsla_candidates(batch, faithful_readd=True, generator=gen(3))
    check_candidates(batch, out, faithful_readd=True)
    e = out.edit.view(5, 40)
    assert torch.all(e[1:] == 1.0)  # claimed: one deletion + one addition = one swap
    assert int(out.n_deleted.sum()) == 0 and int(out.n_added.sum()) == 0  # true difference: none


def test_real_molbace_graphs(bundled_root) -> None:
    import gcl.data

    ds = gcl.data.load("ogbg-molbace", root=bundled_root)
    graphs = [ds[i] for i in range(48)]
    # pretrain-gnns layout: [atom type, chirality] and [bond type, direction]
    data = [Data(x=d.x[:, :2].clone(), edge_index=d.edge_index,
                 edge_attr=torch.stack([d.edge_attr[:, 0], torch.zeros_like(d.edge_attr[:, 0])], 1),
                 num_nodes=d.num_nodes) for d in graphs]
    batch = Batch.from_data_list(data)
    before = {k: v.clone() for k, v in batch.to_dict().items() if torch.is_tensor(v)}
    out = dsla_candidates(batch, generator=gen(0))
    check_candidates(batch, out)
    for k, v in before.items():
        assert torch.equal(batch[k], v)
    e = out.edit.view(5, -1)
    assert torch.all(e[1] <= e[2]) and torch.all(e[2] <= e[3])
    assert float(e[4].mean()) > float(e[3].mean())
    # ogb layout (9 node columns, 3 edge columns) works as well
    batch9 = Batch.from_data_list(graphs)
    out9 = dsla_candidates(batch9, added_edge_attr=edge_attr_marginals(batch9.edge_attr, [5, 6, 2]),
                           generator=gen(1))
    assert out9.edge_attr.size(1) == 3 and out9.x.size(1) == 9
    assert torch.all(out9.x[out9.masked, 0] == MASK_ATOM_TYPE)
    assert torch.all(out9.x[out9.masked, 1:] == 0)


def test_same_generator_same_candidates_and_input_untouched() -> None:
    batch = random_batch(5)
    copy = batch.clone()
    a = dsla_candidates(batch, generator=gen(9))
    b = dsla_candidates(batch, generator=gen(9))
    c = dsla_candidates(batch, generator=gen(10))
    for f in ("x", "edge_index", "edge_attr", "edit", "n_deleted", "n_added", "masked", "center"):
        assert torch.equal(getattr(a, f), getattr(b, f))
    assert not torch.equal(a.edge_index, c.edge_index) or not torch.equal(a.masked, c.masked)
    for k in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(batch[k], copy[k])
    torch.manual_seed(4)
    g1 = dsla_candidates(batch)
    torch.manual_seed(4)
    g2 = dsla_candidates(batch)
    assert torch.equal(g1.edge_index, g2.edge_index)
    wrapped = DSLAPerturbation(num_hops=2)(batch, generator=gen(9))
    direct = dsla_candidates(batch, num_hops=2, generator=gen(9))
    assert torch.equal(wrapped.edge_index, direct.edge_index)


def test_draws_are_uniform() -> None:
    # a 6-cycle with one chord, copied 1500 times; the ball covers the graph
    pairs = [(i, (i + 1) % 6) for i in range(6)] + [(0, 3)]
    batch = Batch.from_data_list([make_graph(6, pairs, 0)] * 1500)
    out = dsla_candidates(batch, num_candidates=3, strong=False, edit_ratio=0.3, num_hops=3,
                          generator=gen(2))
    # level 1: p = 2 of m = 7 edges deleted, 2 added among the 15 - 7 = 8 free pairs
    B, N = 1500, batch.num_nodes
    E0 = {(min(u, v), max(u, v)) for u, v in pairs}
    free = {(u, v) for u in range(6) for v in range(u + 1, 6)} - E0
    ei = out.edge_index
    sel = (ei[0] >= N) & (ei[0] < 2 * N) & (ei[0] < ei[1])
    loc = (ei[:, sel] - N) % 6  # local ids (graphs have 6 nodes each)
    local = [(min(u, v), max(u, v)) for u, v in loc.T.tolist()]
    from collections import Counter
    cnt = Counter(local)
    for e in E0:  # kept with probability 5/7
        assert abs(cnt[e] / B - 5 / 7) < 0.05
    for e in free:  # added with probability 2/8
        assert abs(cnt[e] / B - 2 / 8) < 0.05
    # masking: every node of the ball masked with probability floor(0.8 * 6) / 6
    freq = out.masked.view(3, B, 6).float().mean(1)
    assert torch.allclose(freq, torch.full_like(freq, 4 / 6), atol=0.05)
    # centers uniform over the 6 atoms
    cfreq = torch.bincount(out.center % 6, minlength=6).float() / B
    assert torch.allclose(cfreq, torch.full((6,), 1 / 6), atol=0.04)


def test_official_added_bond_marginals() -> None:
    batch = Batch.from_data_list([make_graph(12, [(i, i + 1) for i in range(11)], 0)] * 200)
    out = dsla_candidates(batch, num_candidates=2, strong=True, strong_edit_ratio=1.0, generator=gen(0))
    ei, ea = out.edge_index, out.edge_attr
    N = batch.num_nodes
    half = (ei[0] < ei[1]) & (ei[0] >= N)
    chain = {(i, i + 1) for i in range(11)}
    loc = [((u - N) % 12, (v - N) % 12) for u, v in ei[:, half].T.tolist()]
    new = torch.tensor([(a, b) not in chain for a, b in loc])
    types = ea[half][new]
    assert types.size(0) == 200 * 11
    freq = torch.bincount(types[:, 0], minlength=4).float() / types.size(0)
    assert torch.allclose(freq, torch.tensor(OFFICIAL_BOND_TYPE_PROBS), atol=0.03)
    assert torch.all(types[(types[:, 0] == 1) | (types[:, 0] == 2), 1] == 0)


def test_edge_attr_marginals() -> None:
    ea = torch.tensor([[0, 1], [0, 0], [2, 1], [0, 1]])
    m = edge_attr_marginals(ea)
    assert torch.allclose(m[0], torch.tensor([0.75, 0.0, 0.25], dtype=torch.float64))
    assert torch.allclose(m[1], torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert len(edge_attr_marginals(ea, [4, 3])[0]) == 4
    with pytest.raises(ValueError, match="integer"):
        edge_attr_marginals(ea.float())


def test_single_data_and_float_features() -> None:
    g = make_graph(8, [(i, (i + 1) % 8) for i in range(8)], 0)
    g.x = torch.rand(8, 3)
    out = dsla_candidates(g, num_hops=1, generator=gen(0))
    assert out.batch_size == 1 and out.x.shape == (40, 3)
    assert torch.all(out.x[out.masked] == 0)
    out = dsla_candidates(g, mask_token=[-1.0, 0.0, 1.0], generator=gen(0))
    assert out.x[out.masked].tolist() == [[-1.0, 0.0, 1.0]] * int(out.masked.sum())


def test_bad_input_is_rejected() -> None:
    g = make_graph(4, [(0, 1), (1, 2)], 0)
    with pytest.raises(ValueError, match="symmetric"):
        dsla_candidates(Data(x=g.x, edge_index=torch.tensor([[0], [1]]), num_nodes=4))
    with pytest.raises(ValueError, match="self-loops"):
        dsla_candidates(Data(x=g.x, edge_index=torch.tensor([[0, 1, 2], [1, 0, 2]]), num_nodes=4))
    with pytest.raises(ValueError, match="duplicate"):
        dsla_candidates(Data(x=g.x, edge_index=torch.tensor([[0, 1, 0, 1], [1, 0, 1, 0]]), num_nodes=4))
    with pytest.raises(ValueError, match="num_candidates"):
        dsla_candidates(g, num_candidates=1)
    with pytest.raises(ValueError, match="mask_ratio"):
        dsla_candidates(g, mask_ratio=1.5)
    with pytest.raises(ValueError, match="mask_token"):
        dsla_candidates(g, mask_token=[1, 2, 3])
    with pytest.raises(ValueError, match="edit_unit"):
        dsla_candidates(g, edit_unit="pairs")
    with pytest.raises(ValueError, match="added_edge_attr"):
        dsla_candidates(g, added_edge_attr=[torch.ones(3)])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_with_a_cpu_generator() -> None:
    batch = random_batch(7)
    cpu = dsla_candidates(batch, generator=gen(3))
    gpu = dsla_candidates(batch.to("cuda"), generator=gen(3))
    for f in ("x", "edge_index", "edge_attr", "graph_id", "edit", "n_deleted", "n_added", "masked", "center"):
        assert torch.equal(getattr(gpu, f).cpu(), getattr(cpu, f)), f
    out = dsla_candidates(batch.to("cuda"), generator=gen(4))
    check_candidates(batch, out._replace(**{
        f: getattr(out, f).cpu() for f in out._fields if torch.is_tensor(getattr(out, f))}))
