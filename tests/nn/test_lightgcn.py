"""gcl.nn.lightgcn: CSR transpose, the custom spmm (gradcheck, stored-transpose backward), the
operator's dropout, the bipartite normalisation and LightGCN propagation against dense
references, and the bipartite form against the (I+J) × (I+J) operator of InteractionGraph."""
from __future__ import annotations


import pytest
import torch
from torch import Tensor

from gcl.data.interactions import InteractionGraph
from gcl.nn.lightgcn import (
    LightGCN,
    SparseOperator,
    csr_transpose,
    lightgcn_propagate,
    lightgcn_propagate_bipartite,
    normalized_bipartite_adjacency,
    spmm,
)

TOL = dict(atol=1e-5, rtol=1e-5)
pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")



def random_sparse(m: int, n: int, density: float, seed: int, dtype=torch.float64) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(m, n, generator=g, dtype=dtype)
    dense = dense * (torch.rand(m, n, generator=g) < density)
    return dense


def random_interactions(n_users: int, n_items: int, seed: int) -> InteractionGraph:
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_users, n_items, generator=g) < 0.3
    mask[-1] = False          # a user without training items
    mask[:, -2] = False       # an item without training users
    users, items = mask.nonzero().T
    return InteractionGraph.from_pairs(n_users, n_items, (users, items), (users[:3], items[:3]))


def test_csr_transpose_and_permutation() -> None:
    a = random_sparse(7, 5, 0.4, 0)
    a_csr = a.to_sparse_csr()
    a_t, perm = csr_transpose(a_csr)
    assert a_t.layout == torch.sparse_csr and a_t.shape == (5, 7)
    torch.testing.assert_close(a_t.to_dense(), a.T)
    torch.testing.assert_close(a_t.values(), a_csr.values()[perm])
    # Columns sorted within each row of the transpose.
    crow, col = a_t.crow_indices(), a_t.col_indices()
    for r in range(5):
        seg = col[crow[r]:crow[r + 1]]
        assert torch.equal(seg, seg.sort().values)


def test_spmm_gradcheck_non_symmetric() -> None:
    a = random_sparse(6, 4, 0.5, 1)
    op = SparseOperator(a.to_sparse_csr())
    e = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: spmm(op.matrix, op.matrix_t, t), (e,))
    sq = random_sparse(5, 5, 0.5, 2)
    assert not torch.equal(sq, sq.T)
    op2 = SparseOperator(sq.to_sparse_csr())
    e2 = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: op2 @ (op2 @ t), (e2,))
    torch.testing.assert_close(op2 @ e2, sq @ e2)


def test_backward_uses_the_stored_transpose() -> None:
    a = random_sparse(4, 4, 0.6, 3).to_sparse_csr()
    fake_t = random_sparse(4, 4, 0.6, 4).to_sparse_csr()
    e = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    spmm(a, fake_t, e).sum().backward()
    torch.testing.assert_close(e.grad, fake_t.to_dense() @ torch.ones(4, 2, dtype=torch.float64))


def test_spmm_errors() -> None:
    a = random_sparse(3, 4, 0.5, 5).to_sparse_csr()
    op = SparseOperator(a)
    with pytest.raises(ValueError, match="dense must have shape"):
        op @ torch.randn(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="adj_t"):
        spmm(a, a, torch.randn(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="2-D"):
        SparseOperator(torch.randn(3))


def test_operator_transpose_values_and_dropout() -> None:
    a = random_sparse(6, 8, 0.4, 6)
    op = SparseOperator(a.to_sparse_coo())
    torch.testing.assert_close(op.T.matrix.to_dense(), a.T)
    assert op.T.T is op
    e = torch.randn(6, 3, dtype=torch.float64)
    torch.testing.assert_close(op.T @ e, a.T @ e)
    new = op.with_values(torch.arange(op.values().numel(), dtype=torch.float64))
    torch.testing.assert_close(new.matrix_t.to_dense(), new.matrix.to_dense().T)

    d1 = op.dropout(0.5, torch.Generator().manual_seed(0))
    d2 = op.dropout(0.5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(d1.values(), d2.values())
    kept = d1.values() != 0
    assert 0 < kept.sum() < kept.numel()
    torch.testing.assert_close(d1.values()[kept], 2 * op.values()[kept])
    torch.testing.assert_close(d1.matrix_t.to_dense(), d1.matrix.to_dense().T)
    assert op.dropout(0.0) is op
    with pytest.raises(ValueError, match="p must be"):
        op.dropout(1.0)


def test_normalized_bipartite_adjacency_dense_reference() -> None:
    graph = random_interactions(9, 7, 0)
    r = graph.train.to_dense().double()
    du, di = r.sum(1), r.sum(0)
    inv_u = torch.where(du > 0, du.rsqrt(), torch.zeros_like(du))
    inv_i = torch.where(di > 0, di.rsqrt(), torch.zeros_like(di))
    ref = inv_u[:, None] * r * inv_i[None, :]
    ours = normalized_bipartite_adjacency(graph.train)
    assert ours.layout == torch.sparse_csr
    torch.testing.assert_close(ours.to_dense().double(), ref, **TOL)
    assert ours.to_dense()[-1].abs().sum() == 0 and ours.to_dense()[:, -2].abs().sum() == 0


@pytest.mark.parametrize("combination", ["mean", "sum", [0.5, 0.25, 0.125, 2.0]])
def test_propagate_equals_dense_reference(combination) -> None:
    a = random_sparse(10, 10, 0.3, 7)
    op = SparseOperator(a.to_sparse_csr())
    e = torch.randn(10, 4, dtype=torch.float64)
    e1, e2 = e.clone().requires_grad_(), e.clone().requires_grad_()
    ours = lightgcn_propagate(op, e1, 3, combination)
    alphas = {"mean": [0.25] * 4, "sum": [1.0] * 4}.get(combination, combination) \
        if isinstance(combination, str) else combination
    ref = sum(w * torch.linalg.matrix_power(a, k) @ e2 for k, w in enumerate(alphas))
    torch.testing.assert_close(ours, ref, **TOL)
    probe = torch.randn_like(ref)
    (ours * probe).sum().backward()
    (ref * probe).sum().backward()
    torch.testing.assert_close(e1.grad, e2.grad, **TOL)


def test_bipartite_equals_full_operator_and_model() -> None:
    graph = random_interactions(12, 9, 1)
    block = SparseOperator(normalized_bipartite_adjacency(graph.train))
    full = SparseOperator(graph.normalized_adjacency())
    torch.manual_seed(0)
    model = LightGCN(12, 9, dim=5, num_layers=3)
    ub, ib = model(block)
    uf, if_ = model(full)
    torch.testing.assert_close(ub, uf, **TOL)
    torch.testing.assert_close(ib, if_, **TOL)
    # gradients of both forms agree too
    (ub.square().sum() + ib.sum()).backward()
    g_block = model.user_emb.grad.clone(), model.item_emb.grad.clone()
    model.zero_grad()
    (uf.square().sum() + if_.sum()).backward()
    torch.testing.assert_close(g_block[0], model.user_emb.grad, **TOL)
    torch.testing.assert_close(g_block[1], model.item_emb.grad, **TOL)
    # the block form by hand: one layer, sum
    u0, i0 = model.user_emb.detach(), model.item_emb.detach()
    rd = block.matrix.to_dense()
    u1, i1 = lightgcn_propagate_bipartite(block, u0, i0, 1, "sum")
    torch.testing.assert_close(u1, u0 + rd @ i0, **TOL)
    torch.testing.assert_close(i1, i0 + rd.T @ u0, **TOL)


def test_model_init_and_errors() -> None:
    torch.manual_seed(0)
    m = LightGCN(300, 200, dim=64)
    assert abs(float(m.user_emb.detach().std()) - 0.1) < 0.01
    x = LightGCN(300, 200, dim=64, init="xavier")
    assert float(x.user_emb.detach().abs().max()) <= (6 / 364) ** 0.5
    with pytest.raises(ValueError, match="adj must have shape"):
        m(SparseOperator(torch.eye(5).to_sparse_csr()))
    with pytest.raises(ValueError, match="layer_combination"):
        LightGCN(3, 3, num_layers=2, layer_combination=[1.0, 1.0])
    with pytest.raises(ValueError, match="init"):
        LightGCN(3, 3, init="zeros")


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device: str) -> None:
    graph = random_interactions(12, 9, 1)
    op = SparseOperator(normalized_bipartite_adjacency(graph.train.to(device)))
    model = LightGCN(12, 9, dim=4, num_layers=2).to(device)
    u, i = model(op.dropout(0.2, torch.Generator().manual_seed(0)))
    (u.sum() + i.square().sum()).backward()
    assert u.device.type == device and model.item_emb.grad.device.type == device
    assert model.item_emb.grad.abs().sum() > 0
