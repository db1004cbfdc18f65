"""gcl.nn.metapath: the shared MEOW GCN and HAN semantic attention against dense references
(values and gradients), attention weights summing to 1, one GCN shared by all branches."""
from __future__ import annotations


import pytest
import torch
from torch import Tensor

from gcl.nn.lightgcn import SparseOperator
from gcl.nn.metapath import MetaPathEncoder, MetaPathGCN, SemanticAttention, whole_matrix_standardize

TOL = dict(atol=1e-5, rtol=1e-5)
pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")



def meta_adj(n: int, seed: int) -> Tensor:
    """A dense non-symmetric normalised operator with self-loops (MEOW-like: D^-1/2 Ãᵀ D^-1/2)."""
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < 0.3).double() * torch.randint(1, 4, (n, n), generator=g)
    a = a + torch.eye(n, dtype=torch.float64)
    d = a.sum(1).rsqrt()
    return d[:, None] * a.T * d[None, :]


def ref_gcn(gcn: MetaPathGCN, x: Tensor, a: Tensor) -> Tensor:
    w = gcn.act.weight
    h = a @ (x @ gcn.weight1)
    h = torch.where(h >= 0, h, w * h)
    z = a @ (h @ gcn.weight2)
    return (z - z.mean()) / torch.sqrt(((z - z.mean()) ** 2).mean() + 1e-5)


def ref_attention(att: SemanticAttention, embeds: list[Tensor]) -> tuple[Tensor, Tensor]:
    q = att.att.view(-1)
    e = torch.stack([q @ torch.tanh(emb @ att.fc.weight.T + att.fc.bias).mean(0) for emb in embeds])
    beta = torch.exp(e) / torch.exp(e).sum()
    return sum(b * emb for b, emb in zip(beta, embeds)), beta


@pytest.mark.parametrize("form", ["operator", "sparse", "dense"])
def test_gcn_equals_dense_reference(form: str) -> None:
    torch.manual_seed(0)
    n = 12
    a = meta_adj(n, 0)
    assert not torch.allclose(a, a.T)
    adj = {"operator": SparseOperator(a.to_sparse_csr()), "sparse": a.to_sparse_coo(), "dense": a}[form]
    gcn = MetaPathGCN(7, 6, 5).double()
    with torch.no_grad():
        gcn.act.weight.fill_(0.2)
    x = torch.randn(n, 7, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = gcn(x1, adj)
    probe = torch.randn_like(ours)
    (ours * probe).sum().backward()
    grads = [p.grad.clone() for p in gcn.parameters()]
    gcn.zero_grad()
    ref = ref_gcn(gcn, x2, a)
    (ref * probe).sum().backward()
    torch.testing.assert_close(ours, ref, **TOL)
    torch.testing.assert_close(x1.grad, x2.grad, **TOL)
    for g, p in zip(grads, gcn.parameters()):
        torch.testing.assert_close(g, p.grad, **TOL)
    z = ours.detach()  # var(z) = v / (v + 1e-5) for the raw variance v
    assert abs(float(z.mean())) < 1e-6 and abs(float(z.var(unbiased=False)) - 1) < 1e-2


def test_gcn_init_and_standardize() -> None:
    torch.manual_seed(0)
    gcn = MetaPathGCN(100, 64, 16)
    w1, w2 = gcn.weight1.detach(), gcn.weight2.detach()
    assert float(w1.abs().max()) <= 1 / 64 ** 0.5 and float(w2.abs().max()) <= 0.25
    assert float(w2.abs().max()) > 0.2
    z = torch.randn(5, 3) * 4 + 2
    torch.testing.assert_close(whole_matrix_standardize(z),
                               torch.nn.LayerNorm(z.shape, elementwise_affine=False)(z))
    with pytest.raises(ValueError, match="adj must have shape"):
        gcn(torch.randn(4, 100), torch.eye(5))


def test_attention_weights_sum_to_one_and_equal_reference() -> None:
    torch.manual_seed(1)
    att = SemanticAttention(6).double().eval()
    embeds = [torch.randn(9, 6, dtype=torch.float64, requires_grad=True) for _ in range(4)]
    z, beta = att(embeds)
    assert beta.shape == (4,)
    torch.testing.assert_close(beta.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert (beta > 0).all()
    z_ref, beta_ref = ref_attention(att, embeds)
    torch.testing.assert_close(beta, beta_ref, **TOL)
    torch.testing.assert_close(z, z_ref, **TOL)
    probe = torch.randn_like(z)
    g_ours = torch.autograd.grad((z * probe).sum(), embeds + [att.att, att.fc.weight])
    g_ref = torch.autograd.grad((z_ref * probe).sum(), embeds + [att.att, att.fc.weight])
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, **TOL)
    # the stacked form gives the same
    z2, beta2 = att(torch.stack(embeds))
    torch.testing.assert_close(beta2, beta)


def test_attention_dropout_only_in_training() -> None:
    torch.manual_seed(2)
    att = SemanticAttention(8, attn_dropout=0.5)
    e = torch.randn(3, 10, 8)
    att.eval()
    torch.testing.assert_close(att(e)[1], att(e)[1])
    att.train()
    betas = torch.stack([att(e)[1] for _ in range(5)])
    assert not torch.allclose(betas[0], betas[1]) or not torch.allclose(betas[1], betas[2])
    torch.testing.assert_close(betas.sum(1), torch.ones(5))


def test_encoder_shares_one_gcn_across_branches() -> None:
    torch.manual_seed(3)
    n = 10
    adjs = [SparseOperator(meta_adj(n, s).float().to_sparse_csr()) for s in range(3)]
    enc = MetaPathEncoder(5, 8, 4).eval()
    assert sum(p.numel() for p in enc.gcn.parameters()) == 5 * 8 + 8 * 4 + 1
    x = torch.randn(n, 5)
    xs = [x, torch.randn(n, 5), x]  # e.g. original / augmented inputs per branch
    br = enc.branches(xs, adjs)
    assert br.shape == (3, n, 4)
    torch.testing.assert_close(br.norm(dim=-1), torch.ones(3, n))
    for m in range(3):
        ref = torch.nn.functional.normalize(enc.gcn(xs[m], adjs[m]), dim=-1)
        torch.testing.assert_close(br[m], ref, **TOL)
    z, beta = enc(xs, adjs)
    z_ref, beta_ref = ref_attention(enc.attention, list(br))
    torch.testing.assert_close(z, z_ref, **TOL)
    torch.testing.assert_close(beta, beta_ref, **TOL)
    z_shared, _ = enc(x, adjs)  # one input for every branch
    torch.testing.assert_close(z_shared, enc(xs[:1] * 3, adjs)[0])
    with pytest.raises(ValueError, match="xs has 2"):
        enc(xs[:2], adjs)
    with pytest.raises(ValueError, match="at least one"):
        enc(x, [])


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device: str) -> None:
    adjs = [SparseOperator(meta_adj(10, s).float().to_sparse_csr()).to(device) for s in range(2)]
    enc = MetaPathEncoder(5, 8, 4, dropout=0.2, attn_dropout=0.1).to(device)
    z, beta = enc(torch.randn(10, 5, device=device), adjs)
    z.square().sum().backward()
    assert z.device.type == device and enc.gcn.weight1.grad.device.type == device
