"""MEOW weighted InfoNCE, ProtoNCE (+ concentration) and AdaMEOW against dense references."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gcl.losses.adameow import AdaMEOWLoss, AdaMEOWWeightNet, adameow_loss
from gcl.losses.meow import MEOWInfoNCE, cluster_disagreement_weights, meow_info_nce
from gcl.losses.protonce import ProtoNCE, prototype_concentration, proto_nce
from loss_helpers import adam_losses, assert_close_all, value_and_grads

N, D = 300, 8


def views(seed: int = 0, n: int = N, d: int = D, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(n, d, generator=g, dtype=dtype), dim=1)
    f = F.normalize(a + 0.5 * torch.randn(n, d, generator=g, dtype=dtype), dim=1)
    labels = torch.stack([torch.randint(0, 12, (n,), generator=g), torch.randint(0, 30, (n,), generator=g)])
    return a, f, labels


def ref_meow(a, f, labels, tau):
    """-(1/N) sum_i [a_i.f_i/tau - log sum_j w_ij exp(a_i.f_j/tau)], w_ij = #clusterings that differ."""
    w = torch.zeros(a.size(0), a.size(0), dtype=a.dtype)
    for lab in labels:
        w = w + (lab[:, None] != lab[None, :]).to(a.dtype)
    s = a @ f.T / tau
    return -(s.diagonal() - torch.log((w * torch.exp(s)).sum(dim=1))).mean()


@pytest.mark.parametrize("chunk_size", [None, 64])
def test_meow_info_nce_equals_reference(chunk_size) -> None:
    a, f, labels = views()
    got = value_and_grads(lambda x, y: meow_info_nce(x, y, labels, 0.4, chunk_size=chunk_size), a, f)
    assert_close_all(got, value_and_grads(lambda x, y: ref_meow(x, y, labels, 0.4), a, f))
    torch.testing.assert_close(MEOWInfoNCE(0.4, chunk_size=50)(a, f, labels), got[0])


def test_meow_weights_and_positive_excluded() -> None:
    _, _, labels = views(n=20)
    w = cluster_disagreement_weights(labels)
    assert w.diagonal().eq(0).all() and w.max() <= 2 and w.min() == 0
    assert torch.equal(w, w.T)
    # one clustering given as [N]
    a, f, _ = views(n=20, seed=1)
    single = torch.arange(20) % 4
    torch.testing.assert_close(meow_info_nce(a, f, single, 0.5), ref_meow(a, f, single[None], 0.5))


def test_meow_row_without_negative_raises() -> None:
    a, f, _ = views(n=10, seed=2)
    labels = torch.zeros(2, 10, dtype=torch.long)  # one cluster in both clusterings: every w_ij = 0
    with pytest.raises(ValueError, match="anchor row 0 with no candidate"):
        meow_info_nce(a, f, labels, 0.5, chunk_size=3)
    labels[1, 0] = 1  # now only anchor 0 differs from anyone, so every row has a negative
    assert torch.isfinite(meow_info_nce(a, f, labels, 0.5, chunk_size=3))


def ref_proto(a, mus, phis, labels):
    total = 0.0
    for mu, phi, lab in zip(mus, phis, labels):
        c = mu / mu.norm(dim=1, keepdim=True)
        logits = a @ c.T / phi
        total = total + (-logits[torch.arange(a.size(0)), lab] + torch.log(torch.exp(logits).sum(dim=1))).mean()
    return total / len(mus)


def test_proto_nce_equals_reference() -> None:
    a, _, labels = views(n=60, seed=3)
    g = torch.Generator().manual_seed(3)
    mus = [torch.randn(12, D, generator=g, dtype=torch.float64), torch.randn(30, D, generator=g, dtype=torch.float64)]
    phis = [torch.rand(12, generator=g, dtype=torch.float64) + 0.2, torch.rand(30, generator=g, dtype=torch.float64) + 0.2]
    got = value_and_grads(lambda x: proto_nce(x, mus, phis, labels), a)
    assert_close_all(got, value_and_grads(lambda x: ref_proto(x, mus, phis, labels), a))
    torch.testing.assert_close(ProtoNCE()(a, mus, phis, list(labels)), got[0])
    with pytest.raises(ValueError, match="same non-zero length"):
        proto_nce(a, mus, phis[:1], labels)


def test_prototype_concentration_equals_numpy_reference() -> None:
    g = torch.Generator().manual_seed(4)
    f = F.normalize(torch.randn(80, 5, generator=g, dtype=torch.float64), dim=1)
    k = 10
    labels = torch.randint(0, k - 2, (80,), generator=g)
    labels[0] = k - 2  # a singleton cluster; cluster k - 1 is empty
    mu = torch.stack([f[labels == c].mean(0) if (labels == c).any() else torch.zeros(5, dtype=f.dtype) for c in range(k)])
    got = prototype_concentration(f, labels, mu, tau=0.4)
    # reference, numpy: PCL-style loop over clusters
    fn, ln, mn = f.numpy(), labels.numpy(), mu.numpy()
    dens = np.zeros(k)
    for c in range(k):
        idx = np.where(ln == c)[0]
        if len(idx) > 1:
            dist = np.sqrt(np.maximum((fn[idx] @ mn[c]), 0))
            dens[c] = dist.mean() / np.log(len(idx) + 5)
    dmax = dens.max()
    for c in range(k):
        if (ln == c).sum() <= 1:
            dens[c] = dmax
    dens = dens.clip(np.percentile(dens, 10), np.percentile(dens, 90))
    dens = 0.4 * dens / dens.mean()
    np.testing.assert_allclose(got.numpy(), dens, rtol=1e-10)
    assert abs(float(got.mean()) - 0.4) < 1e-12


def test_adameow_block_form_equals_naive_form() -> None:
    torch.manual_seed(5)
    net = AdaMEOWWeightNet(D, 16).double()
    f, a, _ = views(n=40, seed=5)
    naive = value_and_grads(lambda x, y: net.naive_weights(x, y).pow(2).sum(), f, a)
    for chunk in (None, 7):
        block = value_and_grads(lambda x, y: net(x, y, chunk_size=chunk).pow(2).sum(), f, a)
        assert_close_all(block, naive)
    torch.testing.assert_close(net(f, a), net.naive_weights(f, a))
    # parameter gradients too
    grads = []
    for fn in (lambda: net.naive_weights(f, a).sum(), lambda: net(f, a, chunk_size=9).sum()):
        net.zero_grad()
        fn().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    assert_close_all(grads[1], grads[0])


def ref_adameow(f, a, w, tau):
    s = f @ a.T / tau
    return -torch.log(torch.exp(s.diagonal()) / (w * torch.exp(s)).sum(dim=1)).mean()


@pytest.mark.parametrize("chunk_size", [None, 16])
def test_adameow_loss_equals_reference(chunk_size) -> None:
    torch.manual_seed(6)
    net = AdaMEOWWeightNet(D, 16).double()
    f, a, _ = views(n=50, seed=6)

    def run(fn):
        net.zero_grad()
        out = value_and_grads(fn, f, a)
        return out + tuple(p.grad.clone() for p in net.parameters())

    got = run(lambda x, y: adameow_loss(x, y, net, 0.9, chunk_size=chunk_size))
    want = run(lambda x, y: ref_adameow(x, y, net.naive_weights(x, y), 0.9))
    assert_close_all(got, want)


def test_adameow_stats_and_training() -> None:
    torch.manual_seed(7)
    loss_fn = AdaMEOWLoss(D, 16, tau=1.0, chunk_size=16)
    f, a, _ = views(n=48, seed=7, dtype=torch.float32)
    w = loss_fn.weight_net(f, a).detach()
    stats = loss_fn.weight_net.stats(f, a, chunk_size=10)
    assert abs(stats["mean"] - float(w.mean())) < 1e-6 and abs(stats["std"] - float(w.std(unbiased=False))) < 1e-6
    assert stats["min"] == pytest.approx(float(w.min())) and stats["max"] == pytest.approx(float(w.max()))
    fa = f.clone().requires_grad_()
    losses = adam_losses(lambda: loss_fn(F.normalize(fa, dim=1), a), [fa, *loss_fn.parameters()], lr=0.02)
    assert losses[-1] < losses[0] - 0.1


def test_adam_lowers_meow_objective() -> None:
    a, f, labels = views(n=64, seed=8, dtype=torch.float32)
    fa = f.clone().requires_grad_()
    losses = adam_losses(lambda: meow_info_nce(a, F.normalize(fa, dim=1), labels, 0.4, chunk_size=20), [fa])
    assert losses[-1] < losses[0] - 0.3


def test_adameow_chunked_keeps_no_pair_sized_tensor() -> None:
    """Outside the checkpointed blocks autograd keeps O(N h) tensors, not N x N x h ones."""
    n = 40
    torch.manual_seed(9)
    net = AdaMEOWWeightNet(D, 16)
    f, a, _ = views(n=n, seed=9, dtype=torch.float32)
    f.requires_grad_()

    def largest_saved(chunk_size):
        sizes = []

        def pack(t):
            sizes.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = adameow_loss(f, a, net, 1.0, chunk_size=chunk_size)
        loss.backward()
        return max(sizes)

    assert largest_saved(None) >= n * n * 16
    assert largest_saved(8) <= n * 16
