"""Tests of the recommendation methods (LightGCN, SGL, LightGCL) and their training pieces.

Dense references on tiny random graphs (values and gradients), the streamed log-sum-exp, the
negative sampler, one epoch lowering the loss, a short run far above random ranking, presets
and bad input. A slice of the real Gowalla files (first 300 users) runs when the shared data
is present.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gcl.data import InteractionGraph
from gcl.data.interaction_subsets import split_hash, subsample_users
from gcl.data.interactions import load_lightgcn_files
from gcl.losses.node_contrast import node_contrast
from gcl.losses.streaming_lse import streaming_logsumexp
from gcl.methods import SGL, LightGCL, LightGCLConfig, LightGCN, LightGCNConfig, SGLConfig
from gcl.methods.cf import bpr_batches, evaluate, sample_negatives, train_epoch


def random_graph(n_users: int = 30, n_items: int = 40, density: float = 0.15, seed: int = 0) -> InteractionGraph:
    """Random interactions; every user has >= 2 train items, some valid and test items."""
    rng = np.random.default_rng(seed)
    m = rng.random((n_users, n_items)) < density
    m[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    m[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(m)
    split = rng.random(u.size)
    tr, va, te = split < 0.7, (split >= 0.7) & (split < 0.8), split >= 0.8
    return InteractionGraph.from_pairs(n_users, n_items, (u[tr], i[tr]), (u[te], i[te]), (u[va], i[va]))


def clustered_graph(n_users: int = 120, n_items: int = 80, groups: int = 4, seed: int = 0) -> InteractionGraph:
    """Users interact only with items of their own group: a learnable structure."""
    rng = np.random.default_rng(seed)
    ug = np.arange(n_users) % groups
    ig = np.arange(n_items) % groups
    same = ug[:, None] == ig[None, :]
    m = same & (rng.random((n_users, n_items)) < 0.5)
    u, i = np.nonzero(m)
    split = rng.random(u.size)
    tr, va, te = split < 0.7, (split >= 0.7) & (split < 0.8), split >= 0.8
    return InteractionGraph.from_pairs(n_users, n_items, (u[tr], i[tr]), (u[te], i[te]), (u[va], i[va]))


def dense_norm(graph: InteractionGraph) -> torch.Tensor:
    a = graph.train.to_dense()
    du, di = a.sum(1), a.sum(0)
    iu = torch.where(du > 0, du.clamp(min=1).rsqrt(), torch.zeros_like(du))
    ii = torch.where(di > 0, di.clamp(min=1).rsqrt(), torch.zeros_like(di))
    return iu[:, None] * a * ii[None, :]


def batch(graph: InteractionGraph, seed: int = 0, size: int = 16):
    gen = torch.Generator().manual_seed(seed)
    return next(bpr_batches(graph, size, gen))


# ---------------------------------------------------------------------------------------
# Streamed log-sum-exp and node contrast
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_saved", [0, 1 << 20])   # streamed blocks / kept logits
@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_streaming_lse_equals_logsumexp_with_gradients(chunk: int, max_saved: int) -> None:
    torch.manual_seed(0)
    a = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(11, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, dtype=torch.float64)
    out = streaming_logsumexp(a, c, 0.3, chunk, max_saved=max_saved)
    ref = torch.logsumexp(a @ c.T / 0.3, dim=1)
    assert torch.allclose(out, ref)
    ga, gc = torch.autograd.grad((out * w).sum(), (a, c))
    ra, rc = torch.autograd.grad((ref * w).sum(), (a, c))
    assert torch.allclose(ga, ra) and torch.allclose(gc, rc)
    assert torch.autograd.gradcheck(lambda x, y: streaming_logsumexp(x, y, 0.3, chunk, max_saved=max_saved),
                                    (a, c))


def test_streaming_lse_second_backward_with_retained_graph() -> None:
    torch.manual_seed(0)
    a = torch.randn(4, 3, requires_grad=True)
    c = torch.randn(9, 3, requires_grad=True)
    out = streaming_logsumexp(a, c, 0.5).sum()      # kept-logits path, consumed by the 1st backward
    first = torch.autograd.grad(out, (a, c), retain_graph=True)
    second = torch.autograd.grad(out, (a, c))
    assert all(torch.equal(x, y) for x, y in zip(first, second))


def test_node_contrast_repeated_anchors_match_per_row_dense() -> None:
    torch.manual_seed(2)
    a = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([0, 2, 2, 5, 0, 2])          # duplicates weigh as many times as they occur
    logits = a[idx] @ c.T / 0.4
    ref = (torch.logsumexp(logits, 1) - logits[torch.arange(6), idx]).mean()
    got = node_contrast(a, c, idx, 0.4)
    assert torch.allclose(got, ref)
    assert all(torch.allclose(x, y) for x, y in zip(torch.autograd.grad(got, (a, c)),
                                                    torch.autograd.grad(ref, (a, c))))


def test_streaming_lse_stays_finite_where_exp_sum_overflows() -> None:
    a = torch.full((2, 3), 10.0)
    c = torch.full((4, 3), 10.0)
    naive = torch.log(torch.exp(a @ c.T / 0.2).sum(1) + 1e-8)   # the official formula
    assert torch.isinf(naive).all()
    out = streaming_logsumexp(a, c, 0.2, 2)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, torch.full((2,), 1500.0 + math.log(4)))
    # where nothing overflows the official formula and ours agree
    a2, c2 = torch.randn(3, 4), torch.randn(6, 4)
    assert torch.allclose(streaming_logsumexp(a2, c2, 0.5, 4),
                          torch.log(torch.exp(a2 @ c2.T / 0.5).sum(1) + 1e-8), atol=1e-6)


def test_node_contrast_all_in_batch_sampled_against_dense() -> None:
    torch.manual_seed(1)
    a, c = torch.randn(9, 4), torch.randn(9, 4)
    idx = torch.tensor([0, 3, 3, 8])
    logits = a[idx] @ c.T / 0.5
    pos = logits[torch.arange(4), idx]
    ref_all = (torch.logsumexp(logits, 1) - pos.clamp(-1, 1)).mean()
    assert torch.allclose(node_contrast(a, c, idx, 0.5, pos_clip=1.0, chunk_size=2), ref_all)
    uniq = torch.tensor([0, 3, 8])
    ref_in = (torch.logsumexp(logits[:, uniq], 1) - pos).mean()
    assert torch.allclose(node_contrast(a, c, idx, 0.5, negatives="in_batch"), ref_in)
    # sampled: the shared sample plus the positive counted once
    gen = torch.Generator().manual_seed(5)
    got = node_contrast(a, c, idx, 0.5, negatives="sampled", num_negatives=4, generator=gen)
    sample = torch.randperm(9, generator=torch.Generator().manual_seed(5))[:4]
    cols = [sorted(set(sample.tolist()) | {int(j)}) for j in idx]
    ref = torch.stack([torch.logsumexp(logits[b, cols[b]], 0) - pos[b] for b in range(4)]).mean()
    assert torch.allclose(got, ref)
    with pytest.raises(ValueError, match="negatives"):
        node_contrast(a, c, idx, 0.5, negatives="hard")


# ---------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------


def test_sample_negatives_never_returns_a_train_item_and_is_uniform() -> None:
    g = random_graph(20, 12, density=0.5)
    users = torch.arange(20).repeat(500)
    neg = sample_negatives(g.train, users, torch.Generator().manual_seed(0))
    dense = g.train.to_dense().bool()
    assert not dense[users, neg].any()
    # uniform over each user's non-items: the counts of user 0 are close to equal
    free = (~dense[0]).nonzero().view(-1)
    counts = torch.bincount(neg[users == 0], minlength=12)[free].double()
    assert counts.sum() == 500 and counts.std() / counts.mean() < 0.35
    full = InteractionGraph.from_pairs(2, 3, ([0, 0, 0, 1], [0, 1, 2, 0]), ([1], [1]))
    with pytest.raises(ValueError, match="user 0 interacted with all 3 items"):
        sample_negatives(full.train, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="users ids must lie in"):
        sample_negatives(g.train, torch.tensor([20]))


def test_bpr_batches_cover_every_interaction_once() -> None:
    g = random_graph()
    parts = list(bpr_batches(g, 7, torch.Generator().manual_seed(0)))
    u = torch.cat([p[0] for p in parts])
    i = torch.cat([p[1] for p in parts])
    assert u.numel() == g.n_train and max(p[0].numel() for p in parts) == 7
    got = sorted(zip(u.tolist(), i.tolist()))
    ref = sorted(zip(*(t.tolist() for t in g.train_pairs())))
    assert got == ref


# ---------------------------------------------------------------------------------------
# Dense references of the three methods
# ---------------------------------------------------------------------------------------


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    params = [p for p in model.parameters() if p.requires_grad]
    return list(torch.autograd.grad(loss, params, allow_unused=True))


def test_lightgcn_loss_equals_dense_reference() -> None:
    g = random_graph()
    cfg = LightGCNConfig(dim=8, num_layers=3, reg_weight=1e-2)
    m = LightGCN.from_graph(g, cfg)
    users, pos, neg = batch(g)
    loss, parts = m.loss(users, pos, neg)
    r = dense_norm(g)
    eu0, ei0 = m.encoder.user_emb, m.encoder.item_emb
    hu, hi, su, si = eu0, ei0, eu0, ei0
    for _ in range(3):
        hu, hi = r @ hi, r.T @ hu
        su, si = su + hu, si + hi
    eu, ei = su / 4, si / 4
    s_p, s_n = (eu[users] * ei[pos]).sum(1), (eu[users] * ei[neg]).sum(1)
    ref = -F.logsigmoid(s_p - s_n).mean() + 1e-2 * 0.5 * (
        eu0[users].pow(2).sum() + ei0[pos].pow(2).sum() + ei0[neg].pow(2).sum()) / users.numel()
    assert torch.allclose(loss, ref, atol=1e-6)
    assert set(parts) == {"bpr", "reg"}
    for a, b in zip(_grads(m, loss), _grads(m, ref)):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("aug", ["ed", "nd", "rw"])
def test_sgl_loss_equals_dense_reference(aug: str) -> None:
    g = random_graph()
    cfg = SGLConfig(dim=8, num_layers=2, aug=aug, ratio=0.2, tau=0.3, ssl_weight=0.5, chunk_size=5)
    m = SGL.from_graph(g, cfg)
    m.begin_epoch(torch.Generator().manual_seed(3))
    users, pos, neg = batch(g)
    loss, parts = m.loss(users, pos, neg)
    e0 = torch.cat([m.encoder.user_emb, m.encoder.item_emb])

    def view(ops):
        h, out = e0, e0
        for op in ops:
            h = op.matrix.to_dense() @ h
            out = out + h
        return F.normalize(out / (len(ops) + 1), dim=1)

    z1, z2 = view(m.view_ops[0]), view(m.view_ops[1])
    n_u = g.n_users

    def nce(a, c, idx):
        lg = a[idx] @ c.T / 0.3
        return (torch.logsumexp(lg, 1) - lg[torch.arange(idx.numel()), idx]).mean()

    cl = nce(z1[:n_u], z2[:n_u], users) + nce(z1[n_u:], z2[n_u:], pos)
    rec_loss, _ = LightGCN.loss(m, users, pos, neg)
    assert torch.allclose(loss, rec_loss + 0.5 * cl, atol=1e-5)
    assert parts["cl"] == pytest.approx(float(cl.detach()), rel=1e-5)
    for a, b in zip(_grads(m, loss), _grads(m, rec_loss + 0.5 * cl)):
        assert torch.allclose(a, b, atol=1e-5)
    if aug == "rw":
        assert m.view_ops[0][0] is not m.view_ops[0][1]
    else:
        assert m.view_ops[0][0] is m.view_ops[0][1]


def test_sgl_views_are_redrawn_every_epoch() -> None:
    g = random_graph()
    m = SGL.from_graph(g, SGLConfig(dim=4, num_layers=1, ratio=0.3))
    gen = torch.Generator().manual_seed(0)
    m.begin_epoch(gen)
    first = m.view_ops[0][0].matrix.to_dense()
    assert not torch.equal(first, m.view_ops[1][0].matrix.to_dense())   # two independent views
    m.begin_epoch(gen)
    assert not torch.equal(first, m.view_ops[0][0].matrix.to_dense())   # fresh per epoch


def _lightgcl_dense(m: LightGCL, g: InteractionGraph, paper: bool):
    r = dense_norm(g)
    svd_mat = m.svd.us @ m.svd.vt  # (U S) Vᵀ, the SVD view's matrix
    eu, ei, gu, gi, zs = [m.user_emb], [m.item_emb], [], [], []
    act = (lambda x: F.leaky_relu(x, 0.5)) if paper else (lambda x: x)
    for _ in range(m.config.num_layers):
        zu, zi = act(r @ ei[-1]), act(r.T @ eu[-1])
        gu.append(act(svd_mat @ ei[-1]))
        gi.append(act(svd_mat.T @ eu[-1]))
        zs.append((zu, zi))
        eu.append(zu + eu[-1] if paper else zu)
        ei.append(zi + ei[-1] if paper else zi)
    return sum(eu), sum(ei), eu[0] + sum(gu), ei[0] + sum(gi), gu, gi, zs


def test_lightgcl_repo_loss_equals_dense_reference() -> None:
    g = random_graph()
    cfg = LightGCLConfig(dim=8, num_layers=2, rank=3, lambda1=0.3, lambda2=1e-3, tau=0.25,
                         chunk_size=7, svd_solver="arpack")
    m = LightGCL.from_graph(g, cfg)
    users, pos, neg = batch(g)
    loss, parts = m.loss(users, pos, neg)
    eu, ei, gu, gi, *_ = _lightgcl_dense(m, g, paper=False)

    def nce(anchor, cand, idx):
        lg = anchor[idx] @ cand.T / 0.25
        return (torch.logsumexp(lg, 1) - lg[torch.arange(idx.numel()), idx].clamp(-5, 5)).mean()

    bpr = -F.logsigmoid((eu[users] * ei[pos]).sum(1) - (eu[users] * ei[neg]).sum(1)).mean()
    cl = nce(gu, eu, users) + nce(gi, ei, torch.cat([pos, neg]))
    ref = bpr + 0.3 * cl + 1e-3 * (m.user_emb.pow(2).sum() + m.item_emb.pow(2).sum())
    assert torch.allclose(loss, ref, atol=1e-5)
    assert parts["cl"] == pytest.approx(float(cl.detach()), rel=1e-5)
    for a, b in zip(_grads(m, loss), _grads(m, ref)):
        assert torch.allclose(a, b, atol=1e-5)
    # the SVD view multiplies thin factors: equal to the dense rank-q reconstruction
    u, s, v = m.svd.u, m.svd.s, m.svd.v
    assert torch.allclose(m.svd.propagate_users(m.item_emb), (u @ torch.diag(s) @ v.T) @ m.item_emb, atol=1e-6)


def test_lightgcl_paper_style_loss_equals_dense_reference() -> None:
    g = random_graph()
    cfg = LightGCLConfig.for_dataset("gowalla", {"preset": "paper", "dim": 8, "rank": 3, "dropout": 0.0,
                                                 "anchor_keep": 1.0, "lambda1": 0.1, "svd_solver": "arpack"})
    assert cfg.style == "paper" and cfg.tau == 0.3 and cfg.weight_decay == 1e-5 and not cfg.svd_normalize
    m = LightGCL.from_graph(g, cfg)
    users, pos, neg = batch(g)
    loss, parts = m.loss(users, pos, neg)
    eu, ei, _, _, gu, gi, zs = _lightgcl_dense(m, g, paper=True)
    rank = (1 - (eu[users] * ei[pos]).sum(1) + (eu[users] * ei[neg]).sum(1)).clamp(min=0).sum()
    rank = rank / torch.unique(users).numel()
    cl = 0.0
    for layer, ((zu, zi), g_u, g_i) in enumerate(zip(zs, gu, gi)):
        w = m.layer_w[layer]
        for z_all, g_all, ids in ((zu, g_u, torch.unique(users)), (zi, g_i, torch.unique(torch.cat([pos, neg])))):
            z = F.normalize(z_all[ids], dim=1)
            gg = F.normalize(g_all[ids], dim=1) @ w
            lg = z @ gg.T / 0.3
            cl = cl + (torch.logsumexp(lg, 1) - lg.diagonal()).sum()
    ref = rank + 0.1 * cl
    assert torch.allclose(loss, ref, atol=1e-4)
    for a, b in zip(_grads(m, loss), _grads(m, ref)):
        assert torch.allclose(a, b, atol=1e-4)
    sched = m.make_scheduler(m.make_optimizer())
    assert sched is not None


# ---------------------------------------------------------------------------------------
# Training, evaluation, presets, errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls,cfg", [
    (LightGCN, LightGCNConfig(dim=16, num_layers=2, lr=1e-2)),
    (SGL, SGLConfig(dim=16, num_layers=2, lr=1e-2)),
    (LightGCL, LightGCLConfig(dim=16, rank=3, lr=1e-2, negatives="sampled", num_negatives=32)),
])
def test_one_epoch_lowers_the_loss(cls, cfg) -> None:
    g = clustered_graph()
    torch.manual_seed(0)
    m = cls.from_graph(g, cfg)
    opt = m.make_optimizer()
    users, pos, neg = batch(g, size=256)
    before = float(m.loss(users, pos, neg, torch.Generator().manual_seed(1))[0].detach())
    out = train_epoch(m, opt, g, 64, torch.Generator().manual_seed(0))
    after = float(m.loss(users, pos, neg, torch.Generator().manual_seed(1))[0].detach())
    assert after < before
    assert "loss" in out and "bpr" in out and all(math.isfinite(v) for v in out.values())


def test_short_run_beats_random_ranking_by_a_wide_margin() -> None:
    g = clustered_graph()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    # LightGCL is run on the Gowalla slice below: on these four disjoint blocks its rank-q SVD
    # view is constant within a block, so its contrast pushes same-block users apart
    for cls, cfg in ((LightGCN, LightGCNConfig(dim=16, num_layers=2, lr=2e-2)),
                     (SGL, SGLConfig(dim=16, num_layers=2, lr=2e-2, negatives="in_batch"))):
        m = cls.from_graph(g, cfg)
        opt = m.make_optimizer()
        for _ in range(15):
            train_epoch(m, opt, g, 128, gen)
        res = evaluate(m, g, "test", ks=(20,))
        # random ranking: expected Recall@20 ~ 20 / (unseen items) ~ 0.3; the group structure
        # puts every test item among the user's 20 in-group items
        assert res["recall@20"] > 0.9, (cls.__name__, res)
        assert set(res) == {"recall@20", "ndcg@20", "n_users"}


def test_presets_and_overrides() -> None:
    assert LightGCLConfig.for_dataset("gowalla").lambda2 == 0.0
    assert LightGCLConfig.for_dataset("gowalla").tau == 0.2
    assert LightGCLConfig.for_dataset("amazon-book").num_layers == 1
    cpu = LightGCLConfig.for_dataset("gowalla", {"preset": "cpu"})
    assert (cpu.negatives, cpu.num_negatives, cpu.num_layers, cpu.epochs, cpu.lambda2) == ("sampled", 4096, 2, 30, 0.0)
    sgl = SGLConfig.for_dataset("amazon-book")
    assert (sgl.aug, sgl.ratio, sgl.tau, sgl.ssl_weight, sgl.num_layers) == ("ed", 0.1, 0.2, 0.5, 3)
    assert SGLConfig.for_dataset("gowalla", {"preset": "cpu"}).negatives == "sampled"
    lg = LightGCNConfig.for_dataset("gowalla")
    assert (lg.dim, lg.num_layers, lg.batch_size, lg.lr, lg.reg_weight) == (64, 3, 2048, 1e-3, 1e-4)
    assert LightGCLConfig.for_dataset("gowalla", {"tau": 0.5}).to_dict()["tau"] == 0.5
    with pytest.raises(ValueError, match="unknown LightGCLConfig keys"):
        LightGCLConfig.for_dataset("gowalla", {"temperature": 0.5})
    with pytest.raises(ValueError, match="preset must be one of"):
        SGLConfig.for_dataset("gowalla", {"preset": "fast"})
    with pytest.raises(ValueError, match="aug must be"):
        SGLConfig(aug="walk")


def test_bad_input_gives_clear_errors() -> None:
    g = random_graph()
    m = LightGCN.from_graph(g, LightGCNConfig(dim=4, num_layers=1))
    with pytest.raises(ValueError, match=r"users ids must lie in \[0, 30\)"):
        m.loss(torch.tensor([30]), torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"pos_items ids must lie in \[0, 40\)"):
        m.loss(torch.tensor([0]), torch.tensor([-1]), torch.tensor([1]))
    with pytest.raises(ValueError, match="one length"):
        m.loss(torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([1]))
    empty_test = InteractionGraph.from_pairs(3, 4, ([0, 1, 2], [0, 1, 2]), ([], []))
    m2 = LightGCN.from_graph(empty_test, LightGCNConfig(dim=4, num_layers=1))
    with pytest.raises(ValueError, match="test split .* is empty"):
        evaluate(m2, empty_test, "test")
    with pytest.raises(ValueError, match="model was built for 3 users x 4 items"):
        evaluate(m2, g, "valid")
    with pytest.raises(ValueError, match="split must be"):
        evaluate(m, g, "train")
    bad = InteractionGraph.from_pairs(3, 4, ([0], [0]), ([1], [1]))
    bad.test = random_graph(3, 5).test
    with pytest.raises(ValueError, match=r"test matrix has shape \(3, 5\), expected \(3, 4\)"):
        LightGCL.from_graph(bad, LightGCLConfig(dim=4, rank=1))
    with pytest.raises(ValueError, match="training split is empty"):
        LightGCN.from_graph(InteractionGraph.from_pairs(2, 2, ([], []), ([0], [0])), LightGCNConfig())
    with pytest.raises(ValueError, match="rank 9 exceeds"):
        LightGCL.from_graph(random_graph(8, 6), LightGCLConfig(dim=4, rank=9))


def test_subsample_and_split_hash() -> None:
    g = random_graph(50, 30)
    s = subsample_users(g, 10, seed=1)
    assert s.n_users == 10 and s.n_train + s.n_valid + s.n_test > 0
    assert split_hash(s) == split_hash(subsample_users(g, 10, seed=1))
    assert split_hash(s) != split_hash(subsample_users(g, 10, seed=2))
    assert subsample_users(g, 100) is g


# ---------------------------------------------------------------------------------------
# A slice of the real Gowalla files
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gowalla_slice(shared_root: Path, tmp_path_factory: pytest.TempPathFactory) -> InteractionGraph:
    src = shared_root / "recsys" / "gowalla"
    out = tmp_path_factory.mktemp("gowalla-slice")
    for name in ("train.txt", "test.txt"):
        lines = (src / name).read_text().splitlines()[:300]
        (out / name).write_text("\n".join(lines) + "\n")
    g = load_lightgcn_files(out / "train.txt", out / "test.txt", valid_ratio=0.1, seed=0, name="gowalla300")
    return subsample_users(g, 300)  # renumbers the items touched by these users


def test_gowalla_slice_adjacency_svd_and_short_run(gowalla_slice: InteractionGraph) -> None:
    g = gowalla_slice
    assert g.n_users == 300 and g.valid_origin == "train"
    cfg = LightGCLConfig.for_dataset("gowalla", {"dim": 16, "lr": 1e-2, "batch_size": 1024,
                                                 "svd_solver": "arpack", "negatives": "sampled",
                                                 "num_negatives": 256})
    m = LightGCL.from_graph(g, cfg)
    assert torch.allclose(m.adj.matrix.to_dense(), dense_norm(g), atol=1e-6)
    assert float(m.svd.s[0]) == pytest.approx(1.0, abs=1e-3)   # σ1(Â) = 1
    gen = torch.Generator().manual_seed(0)
    opt = m.make_optimizer()
    untrained = evaluate(m, g, "valid", ks=(20,))["recall@20"]
    losses = [train_epoch(m, opt, g, cfg.batch_size, gen)["loss"] for _ in range(4)]
    trained = evaluate(m, g, "valid", ks=(20,))["recall@20"]
    assert losses[-1] < losses[0]
    random_recall = 20 / g.n_items  # expected Recall@20 of a uniformly random ranking
    assert trained > 10 * max(untrained, random_recall), (untrained, random_recall, trained)
