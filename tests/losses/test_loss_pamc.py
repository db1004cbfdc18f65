"""PamC, SCGC* (chunked and dense) and the DEC head against plain dense references."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.losses.dec import DECLoss, dec_kl_loss, dec_target, student_t_assignment
from gcl.losses.pamc import EmptyClusterError, PamCLoss, meta_nodes, pamc_loss
from gcl.losses.scgc import DenseSCGCStarLoss, SCGCStarLoss, scgc_star_loss, scgc_star_loss_dense
from loss_helpers import adam_losses, assert_close_all, value_and_grads

N, D = 30, 4


def influence_operator(n: int, r: int, seed: int = 0) -> torch.Tensor:
    """Dense sum_{t=1..r} Ã^t with Ã = D^-1 (max(A, A^T) + I), for a random sparse graph."""
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < 0.08).double()
    a = torch.maximum(a, a.T) + torch.eye(n, dtype=torch.float64)
    a = (a > 0).double()
    at = a / a.sum(dim=1, keepdim=True)
    out, power = torch.zeros_like(at), torch.eye(n, dtype=torch.float64)
    for _ in range(r):
        power = power @ at
        out = out + power
    return out


def ref_cos(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(eps)
    s = xn @ xn.T
    return s * (1 - torch.eye(x.size(0), dtype=x.dtype))  # zero diagonal


def ref_pamc(z, a_dense, assign, k, tau):
    """The formula with dense matrices and the one-hot meta-node construction."""
    pos = (a_dense * torch.exp(tau * ref_cos(z))).sum(dim=1)
    onehot = torch.nn.functional.one_hot(assign, k).to(z.dtype)               # [N, K]
    c = onehot.T @ z
    c = c[onehot.sum(dim=0) > 0]
    neg = torch.exp(tau * ref_cos(c)).sum(dim=1)
    return -torch.log(pos + 1e-10).mean() + torch.log(neg + 1e-10).mean()


def ref_scgc(z, a_dense, tau):
    e = torch.exp(tau * ref_cos(z))
    return -torch.log((e * a_dense).sum(dim=1) / e.sum(dim=1) + 1e-8).mean()


def setup(seed: int = 0, r: int = 2):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(N, D, generator=g, dtype=torch.float64)
    assign = torch.tensor([0, 1, 3, 4] * 7 + [1, 3])  # cluster 2 is empty, K = 5
    a = influence_operator(N, r, seed)
    return z, assign, a, a.to_sparse_coo()


@pytest.mark.parametrize("tau", [0.5, 1.5])
@pytest.mark.parametrize("edge_chunk_size", [None, 17])
def test_pamc_equals_dense_reference(tau: float, edge_chunk_size) -> None:
    z, assign, a, a_sp = setup()
    got = value_and_grads(lambda x: pamc_loss(x, a_sp, assign, tau, edge_chunk_size=edge_chunk_size), z)
    want = value_and_grads(lambda x: ref_pamc(x, a, assign, 5, tau), z)
    assert_close_all(got, want)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_pamc_adjacency_formats_agree() -> None:
    z, assign, a, a_sp = setup(seed=1)
    coo = pamc_loss(z, a_sp, assign, 1.0)
    csr = pamc_loss(z, a.to_sparse_csr(), assign, 1.0)
    idx = a.nonzero().T
    tup = pamc_loss(z, (idx, a[idx[0], idx[1]]), assign, 1.0)
    torch.testing.assert_close(csr, coo)
    torch.testing.assert_close(tup, coo)
    assert PamCLoss(1.0)(z, a_sp, assign) == coo


def test_pamc_soft_assignment() -> None:
    z, _, a, a_sp = setup(seed=2)
    q = torch.softmax(torch.randn(N, 3, dtype=torch.float64), dim=1)

    def ref(x):
        c = q.T @ x
        pos = (a * torch.exp(ref_cos(x))).sum(dim=1)
        return -torch.log(pos + 1e-10).mean() + torch.log(torch.exp(ref_cos(c)).sum(dim=1) + 1e-10).mean()

    assert_close_all(value_and_grads(lambda x: pamc_loss(x, a_sp, q, 1.0), z), value_and_grads(ref, z))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_meta_node_identity(n: int, k: int, seed: int) -> None:
    """sum_{i in a, j in b} z_i . z_j = c_a . c_b for every pair of clusters (empty ones kept)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=g, dtype=torch.float64)
    assign = torch.randint(0, k, (n,), generator=g)
    c, ids = meta_nodes(z, assign, k, drop_empty=False)
    assert ids.tolist() == list(range(k))
    same = (assign[:, None] == torch.arange(k)).double()                       # [N, K] membership
    block_sums = same.T @ (z @ z.T) @ same                                     # sum over i in a, j in b
    torch.testing.assert_close(c @ c.T, block_sums, atol=1e-9, rtol=1e-9)
    kept, kept_ids = meta_nodes(z, assign, k)
    assert kept_ids.tolist() == sorted(set(assign.tolist()))
    torch.testing.assert_close(kept, c[kept_ids])


@pytest.mark.parametrize("case", ["zero_embeddings", "zero_meta_nodes"])
@pytest.mark.parametrize("drop_empty", [True, False])
def test_no_nan_with_empty_clusters_and_zero_embeddings(case: str, drop_empty: bool) -> None:
    _, assign, _, a_sp = setup(seed=3)  # clusters 2, 5, 6 of 7 are empty
    if case == "zero_embeddings":
        z = torch.zeros(N, D, dtype=torch.float64)
    else:  # every cluster's members cancel: all meta-nodes are zero vectors
        z = torch.randn(N // 2, D, dtype=torch.float64).repeat(2, 1) * torch.tensor([1.0] * (N // 2) + [-1.0] * (N // 2))[:, None]
        assign = (torch.arange(N) % (N // 2)) % 3
    loss, grad = value_and_grads(lambda x: pamc_loss(x, a_sp, assign, 1.0, num_clusters=7,
                                                     drop_empty=drop_empty), z)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_empty_cluster_is_dropped() -> None:
    # the empty cluster really is dropped: value equals a relabelled run with no gap
    z, assign, _, a_sp = setup(seed=4)
    relabelled = torch.searchsorted(torch.tensor([0, 1, 3, 4]), assign)
    torch.testing.assert_close(pamc_loss(z, a_sp, assign, 1.0, num_clusters=9),
                               pamc_loss(z, a_sp, relabelled, 1.0))


def test_fewer_than_two_clusters_raise() -> None:
    z, _, _, a_sp = setup()
    with pytest.raises(EmptyClusterError, match="at least 2 non-empty clusters, got 1"):
        pamc_loss(z, a_sp, torch.full((N,), 3), 1.0, num_clusters=5)
    with pytest.raises(ValueError, match=r"assignment ids must lie in \[0, 3\)"):
        pamc_loss(z, a_sp, torch.arange(N) % 4, 1.0, num_clusters=3)
    with pytest.raises(ValueError, match="dense matrices are not accepted"):
        pamc_loss(z, torch.eye(N), torch.arange(N) % 2)
    with pytest.raises(ValueError, match="node ids outside"):
        pamc_loss(z, (torch.tensor([[0], [N]]), torch.ones(1)), torch.arange(N) % 2)


def test_adam_lowers_pamc() -> None:
    z, assign, _, a_sp = setup(seed=5)
    z = z.float().requires_grad_()
    a_sp = a_sp.float()
    losses = adam_losses(lambda: pamc_loss(z, a_sp, assign, 1.0), [z], lr=0.05)
    assert losses[-1] < losses[0] - 0.05


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 64])
def test_scgc_chunked_and_dense_equal_reference(chunk_size) -> None:
    z, _, a, a_sp = setup(seed=6, r=3)
    want = value_and_grads(lambda x: ref_scgc(x, a, 0.5), z)
    assert_close_all(value_and_grads(lambda x: scgc_star_loss(x, a_sp, 0.5, chunk_size=chunk_size), z), want)
    assert_close_all(value_and_grads(lambda x: scgc_star_loss_dense(x, a_sp, 0.5), z), want)
    assert_close_all(value_and_grads(lambda x: SCGCStarLoss(0.5, chunk_size=chunk_size, edge_chunk_size=50)(x, a_sp), z),
                     want)
    assert_close_all(value_and_grads(lambda x: DenseSCGCStarLoss(0.5)(x, a_sp), z), want)


def test_adam_lowers_scgc() -> None:
    z, assign, _, a_sp = setup(seed=7)
    z = z.float().requires_grad_()
    a_sp = a_sp.float()
    losses = adam_losses(lambda: scgc_star_loss(z, a_sp, 1.0, chunk_size=8), [z], lr=0.05)
    assert losses[-1] < losses[0] - 0.05


def ref_q(z, mu, v=1.0):
    sq = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
    q = (1 + sq / v) ** (-(v + 1) / 2)
    return q / q.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("v", [1.0, 2.5])
def test_dec_equals_reference(v: float) -> None:
    g = torch.Generator().manual_seed(8)
    z = torch.randn(20, 3, generator=g, dtype=torch.float64)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(student_t_assignment(z, mu, v), ref_q(z, mu, v))
    q = ref_q(z, mu, v)
    f = q.sum(dim=0)
    p = (q ** 2 / f) / (q ** 2 / f).sum(dim=1, keepdim=True)
    torch.testing.assert_close(dec_target(q), p)

    def ref(x, m):
        qq = ref_q(x, m, v)
        return (p * torch.log(p / qq)).sum() / x.size(0)

    got = value_and_grads(lambda x, m: DECLoss(v)(x, m, p), z, mu)
    assert_close_all(got, value_and_grads(ref, z, mu))
    # default target: that of the current (detached) Q
    torch.testing.assert_close(DECLoss(v)(z, mu), dec_kl_loss(p, q))


def official_style_pamc(z, row, col, value, assign, tau):
    """The official O(N K d) form: an edge gather for the positives and the N x K x d one-hot
    broadcast for the meta-nodes (width max id + 1), empty clusters removed afterwards."""
    norm = torch.sqrt((z * z).sum(dim=1, keepdim=True)).clamp_min(1e-8)
    zn = z / norm
    s = (zn[row] * zn[col]).sum(dim=1) * (row != col).to(z.dtype)
    pos = torch.zeros(z.size(0), dtype=z.dtype).scatter_add(0, row, value * torch.exp(tau * s))
    k = int(assign.max()) + 1
    onehot = (assign[:, None] == torch.arange(k)[None, :]).to(z.dtype)          # [N, K]
    c = (onehot[:, :, None] * z[:, None, :]).sum(dim=0)                          # [K, d] via N x K x d
    c = c[onehot.sum(dim=0) > 0]
    cn = c / torch.sqrt((c * c).sum(dim=1, keepdim=True)).clamp_min(1e-8)
    sc = (cn[:, None, :] * cn[None, :, :]).sum(dim=-1) * (1 - torch.eye(c.size(0), dtype=z.dtype))
    neg = torch.exp(tau * sc).sum(dim=1)
    return -torch.log(pos + 1e-10).mean() + torch.log(neg + 1e-10).mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pamc_equals_official_nkd_restatement(seed: int) -> None:
    """Random graph (N = 200, ~10 edges per node, r = 1), K = 10 with two empty ids, d = 10."""
    from gcl.nn.influence import influence_operator

    g = torch.Generator().manual_seed(seed)
    n, k, d = 200, 10, 10
    src = torch.arange(n).repeat_interleave(5)
    edge_index = torch.stack([src, torch.randint(0, n, (5 * n,), generator=g)])
    adj = influence_operator(edge_index, n, 1, dtype=torch.float64).to_sparse_coo().coalesce()
    row, col = adj.indices()
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    assign = torch.randint(0, k, (n,), generator=g)
    assign[assign == 3] = 4
    assign[assign == 7] = 8
    tau = 0.5 + seed * 0.5
    got = value_and_grads(lambda x: pamc_loss(x, adj, assign, tau, num_clusters=k), z)
    want = value_and_grads(lambda x: official_style_pamc(x, row, col, adj.values(), assign, tau), z)
    assert_close_all(got, want, atol=1e-10, rtol=1e-10)
