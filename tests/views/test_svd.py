"""gcl.views.svd: LightGCL's SVD view against dense references."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from gcl.data.interactions import InteractionGraph
from gcl.views.svd import SVDView, normalized_interaction_matrix



pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def low_rank(rows: int = 40, cols: int = 30, rank: int = 3, seed: int = 0) -> torch.Tensor:
    g = gen(seed)
    return torch.randn(rows, rank, generator=g, dtype=torch.float64) @ torch.randn(
        rank, cols, generator=g, dtype=torch.float64
    )


def tiny_graph(seed: int = 0, n_users: int = 50, n_items: int = 40, n_pairs: int = 300) -> InteractionGraph:
    rng = np.random.default_rng(seed)
    users = np.concatenate([rng.integers(0, n_users - 1, n_pairs), np.arange(n_users - 1)])
    items = np.concatenate([rng.integers(0, n_items - 2, n_pairs), rng.integers(0, n_items - 2, n_users - 1)])
    return InteractionGraph.from_pairs(n_users, n_items, (users, items), (np.array([0]), np.array([0])))


def test_factors_reconstruct_a_low_rank_matrix_dense_and_csr() -> None:
    A = low_rank()
    for mat in (A, A.to_sparse_csr(), A.to_sparse_coo()):
        view = SVDView(mat, rank=3, niter=4, generator=gen(1))
        assert view.u.shape == (40, 3) and view.s.shape == (3,) and view.v.shape == (30, 3)
        torch.testing.assert_close(view.reconstruct(), A, rtol=1e-8, atol=1e-8)
        torch.testing.assert_close(view.u.T @ view.u, torch.eye(3, dtype=A.dtype), rtol=0, atol=1e-10)
        assert torch.all(view.s[:-1] >= view.s[1:])
        exact = torch.linalg.svdvals(A)[:3]
        torch.testing.assert_close(view.s, exact, rtol=1e-8, atol=1e-8)
    arpack = SVDView(A.to_sparse_csr(), rank=3, solver="arpack", generator=gen(0))
    torch.testing.assert_close(arpack.reconstruct(), A, rtol=1e-8, atol=1e-8)


def test_propagation_equals_the_dense_product_with_gradients() -> None:
    g = tiny_graph()
    view = SVDView.from_interactions(g, rank=5, generator=gen(0))
    dense = (view.u @ torch.diag(view.s) @ view.v.T).double()
    e_u = torch.randn(g.n_users, 8, generator=gen(1), requires_grad=True)
    e_i = torch.randn(g.n_items, 8, generator=gen(2), requires_grad=True)
    g_u, g_i = view.propagate(e_u, e_i)
    assert g_u.shape == (g.n_users, 8) and g_i.shape == (g.n_items, 8)
    eu_ref = e_u.detach().double().requires_grad_()
    ei_ref = e_i.detach().double().requires_grad_()
    gu_ref, gi_ref = dense @ ei_ref, dense.T @ eu_ref
    torch.testing.assert_close(g_u.double(), gu_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g_i.double(), gi_ref, rtol=1e-5, atol=1e-5)
    w_u, w_i = torch.randn(g.n_users, 8, generator=gen(3)), torch.randn(g.n_items, 8, generator=gen(4))
    ((g_u * w_u).sum() + (g_i * w_i).sum()).backward()
    ((gu_ref * w_u.double()).sum() + (gi_ref * w_i.double()).sum()).backward()
    torch.testing.assert_close(e_u.grad.double(), eu_ref.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(e_i.grad.double(), ei_ref.grad, rtol=1e-5, atol=1e-5)
    # the view is callable; same as propagate
    a, b = view(e_u, e_i)
    assert torch.equal(a, g_u) and torch.equal(b, g_i)


def test_normalized_matrix_and_its_top_singular_value() -> None:
    g = tiny_graph(1)
    a_hat = normalized_interaction_matrix(g)
    assert a_hat.layout == torch.sparse_csr and a_hat.shape == (g.n_users, g.n_items)
    R = g.train.to_dense().double().numpy()
    du, di = R.sum(1), R.sum(0)
    ref = R / np.sqrt(np.where(du > 0, du, 1))[:, None] / np.sqrt(np.where(di > 0, di, 1))[None, :]
    np.testing.assert_allclose(a_hat.to_dense().numpy(), ref, rtol=1e-6, atol=1e-7)
    assert np.all(ref[-1] == 0) and np.all(ref[:, -2:] == 0)  # zero-degree rows / columns stay 0
    # sigma_1 of D_u^-1/2 A D_i^-1/2 is exactly 1: reached with enough iterations
    sharp = SVDView(a_hat, rank=5, niter=8, oversample=10, generator=gen(0))
    assert abs(float(sharp.s[0]) - 1.0) < 1e-4
    exact = np.linalg.svd(ref, compute_uv=False)[:5]
    np.testing.assert_allclose(sharp.s.numpy(), exact, rtol=1e-3)
    np.testing.assert_allclose(SVDView(a_hat, 5, solver="arpack").s.numpy(), exact, rtol=1e-5)
    # the official setting (q = 5, niter 2, no oversampling) is rougher than with oversampling
    rough = SVDView(a_hat, rank=5, niter=2, oversample=0, generator=gen(0))
    over = SVDView(a_hat, rank=5, niter=2, oversample=10, generator=gen(0))
    err = lambda v: float(np.abs(v.s.numpy() - exact).max())  # noqa: E731
    assert err(over) < err(rough)
    # the paper preset factorises the raw binary matrix
    raw = SVDView.from_interactions(g, rank=5, normalize=False, niter=8, oversample=10, generator=gen(0))
    np.testing.assert_allclose(raw.s.numpy(), np.linalg.svd(R, compute_uv=False)[:5], rtol=1e-3)


def test_factors_are_computed_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = torch.svd_lowrank

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "svd_lowrank", counting)
    g = tiny_graph(2)
    view = SVDView.from_interactions(g, rank=4, generator=gen(0))
    assert not view.is_computed and calls == []
    e_u, e_i = torch.randn(g.n_users, 3), torch.randn(g.n_items, 3)
    for _ in range(3):
        view.propagate(e_u, e_i)
    assert len(calls) == 1 and view.num_factorizations == 1 and view.is_computed
    assert view.us is view.us and view.u is view.u
    moved = view.to("cpu")
    moved.propagate(e_u, e_i)
    assert len(calls) == 1 and moved.num_factorizations == 1


def test_seeded_factors_are_reproducible_and_leave_the_global_rng_alone() -> None:
    a_hat = normalized_interaction_matrix(tiny_graph(3))
    state = torch.get_rng_state()
    a = SVDView(a_hat, rank=5, generator=gen(7)).compute()
    assert torch.equal(torch.get_rng_state(), state)
    b = SVDView(a_hat, rank=5, generator=gen(7)).compute()
    c = SVDView(a_hat, rank=5, generator=gen(8)).compute()
    assert torch.equal(a.u, b.u) and torch.equal(a.s, b.s) and torch.equal(a.v, b.v)
    assert not torch.equal(a.s, c.s)


def test_bad_arguments() -> None:
    A = low_rank()
    with pytest.raises(ValueError, match="rank"):
        SVDView(A, rank=0)
    with pytest.raises(ValueError, match="rank"):
        SVDView(A, rank=31)
    with pytest.raises(ValueError, match="oversample"):
        SVDView(A, rank=25, oversample=10)
    with pytest.raises(ValueError, match="niter"):
        SVDView(A, niter=-1)
    with pytest.raises(ValueError, match="solver"):
        SVDView(A, solver="lanczos")
    with pytest.raises(ValueError, match="matrix"):
        SVDView(torch.zeros(3))
    view = SVDView(A, rank=2)
    with pytest.raises(ValueError, match="item_emb"):
        view.propagate_users(torch.zeros(40, 2, dtype=A.dtype))
    with pytest.raises(ValueError, match="user_emb"):
        view.propagate_items(torch.zeros(30, 2, dtype=A.dtype))
    with pytest.raises(ValueError, match="graph"):
        normalized_interaction_matrix(torch.zeros(3, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_factorisation_and_propagation() -> None:
    A = low_rank().float()
    view = SVDView(A.to_sparse_csr().to("cuda"), rank=3, niter=4, generator=torch.Generator("cuda").manual_seed(0))
    assert view.u.device.type == "cuda"
    torch.testing.assert_close(view.reconstruct().cpu(), A, rtol=1e-3, atol=1e-3)
    again = SVDView(A.to_sparse_csr().to("cuda"), rank=3, niter=4, generator=torch.Generator("cuda").manual_seed(0))
    assert torch.equal(view.s, again.s)
    e = torch.randn(30, 4, device="cuda")
    torch.testing.assert_close(view.propagate_users(e), view.reconstruct() @ e, rtol=1e-4, atol=1e-4)
