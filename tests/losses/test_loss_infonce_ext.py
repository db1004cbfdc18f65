"""InfoNCE extensions: per-pair weights, learnable temperature, reductions, memory bound."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.losses.infonce import InfoNCE, info_nce
from gcl.losses.temperature import Temperature
from loss_helpers import TOL, adam_losses, assert_close_all, value_and_grads


def reference_weighted(z1, z2, tau, w, *, pos_index=None, normalize=True):
    """mean_i -log( exp(s_ip) / sum_j w_ij exp(s_ij) ) with dense matrices, w [N, M] (no intra)."""
    if normalize:
        z1 = z1 / z1.norm(dim=1, keepdim=True)
        z2 = z2 / z2.norm(dim=1, keepdim=True)
    n = z1.size(0)
    pos_index = torch.arange(n) if pos_index is None else pos_index
    e = torch.exp(z1 @ z2.T / tau)
    return -torch.log(e[torch.arange(n), pos_index] / (w * e).sum(dim=1)).mean()


def data(n=12, m=12, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=dtype), torch.randn(m, d, generator=g, dtype=dtype),
            torch.rand(n, m, generator=g, dtype=dtype) * 2)


@pytest.mark.parametrize("form", ["weight", "log_weight", "weight_fn", "log_weight_fn"])
@pytest.mark.parametrize("chunk_size", [None, 5])
def test_weighted_equals_dense_reference(form: str, chunk_size) -> None:
    z1, z2, w = data()
    w[2, 7] = 0.0  # a removed pair
    w[4, 4] = 0.0  # a removed positive (MEOW-style): it stays in the numerator only
    arg = {"weight": w, "log_weight": w.log(), "weight_fn": lambda s, e: w[s:e],
           "log_weight_fn": lambda s, e: w[s:e].log()}[form]
    key = "log_weight" if form.startswith("log") else "weight"
    got = value_and_grads(lambda a, b: info_nce(a, b, 0.4, intra_view=False, chunk_size=chunk_size,
                                                **{key: arg}), z1, z2)
    want = value_and_grads(lambda a, b: reference_weighted(a, b, 0.4, w), z1, z2)
    assert_close_all(got, want)


def test_unit_weights_equal_unweighted_and_pos_index() -> None:
    z1, z2, _ = data(n=7, m=10, seed=1)
    pos = torch.tensor([3, 0, 9, 3, 7, 1, 5])
    ones = torch.ones(7, 10, dtype=z1.dtype)
    got = info_nce(z1, z2, 0.3, pos_index=pos, intra_view=False, weight=ones, chunk_size=3)
    torch.testing.assert_close(got, info_nce(z1, z2, 0.3, pos_index=pos, intra_view=False), **TOL)
    # weights change the value
    w = ones.clone()
    w[:, 0] = 3.0
    assert not torch.allclose(info_nce(z1, z2, 0.3, pos_index=pos, intra_view=False, weight=w), got)
    torch.testing.assert_close(info_nce(z1, z2, 0.3, pos_index=pos, intra_view=False, weight=w),
                               reference_weighted(z1, z2, 0.3, w, pos_index=pos), **TOL)


def test_weight_gradients_reach_learned_log_weights() -> None:
    z1, z2, w = data(n=8, m=8, seed=2)
    lw = w.log().clone().requires_grad_()
    info_nce(z1, z2, 0.5, intra_view=False, chunk_size=3, log_weight=lambda s, e: lw[s:e]).backward()
    lw_ref = w.log().clone().requires_grad_()
    reference_weighted(z1, z2, 0.5, lw_ref.exp()).backward()
    torch.testing.assert_close(lw.grad, lw_ref.grad, **TOL)


def test_row_without_candidates_raises() -> None:
    z1, z2, w = data(n=6, m=6, seed=3)
    w[3] = 0.0
    with pytest.raises(ValueError, match="anchor row 3 with no candidate"):
        info_nce(z1, z2, 0.5, intra_view=False, weight=w)
    with pytest.raises(ValueError, match="anchor row 3 with no candidate"):
        info_nce(z1, z2, 0.5, intra_view=False, weight=w, chunk_size=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(weight=torch.ones(6, 6)), "set intra_view=False"),
        (dict(weight=torch.ones(6, 6), log_weight=torch.ones(6, 6), intra_view=False), "either weight or log_weight"),
        (dict(weight=torch.ones(5, 6), intra_view=False), r"weight must have shape \[6, 6\]"),
        (dict(log_weight=lambda s, e: torch.zeros(e - s, 4), intra_view=False), r"log_weight block for rows 0:6"),
        (dict(weight="no", intra_view=False), "must be a tensor or a callable"),
        (dict(chunk_size=0), "chunk_size must be a positive integer"),
        (dict(reduction="max"), "reduction must be one of"),
        (dict(tau=torch.ones(2)), "must be a scalar"),
    ],
)
def test_bad_arguments(kwargs, message) -> None:
    z = torch.randn(6, 3)
    with pytest.raises(ValueError, match=message):
        info_nce(z, z.clone(), **kwargs)


def test_reductions() -> None:
    z1, z2, _ = data(seed=4)
    per = info_nce(z1, z2, 0.5, reduction="none", chunk_size=5)
    assert per.shape == (12,)
    torch.testing.assert_close(per.mean(), info_nce(z1, z2, 0.5), **TOL)
    torch.testing.assert_close(per.sum(), info_nce(z1, z2, 0.5, reduction="sum"), **TOL)


def test_tensor_temperature_matches_float_and_gets_gradient() -> None:
    z1, z2, _ = data(seed=5)
    tau = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    loss = info_nce(z1, z2, tau, chunk_size=4)
    torch.testing.assert_close(loss, info_nce(z1, z2, 0.3), **TOL)
    loss.backward()
    eps = 1e-6  # central difference in tau
    num = (info_nce(z1, z2, 0.3 + eps) - info_nce(z1, z2, 0.3 - eps)) / (2 * eps)
    torch.testing.assert_close(tau.grad, num, atol=1e-6, rtol=1e-5)


def test_learnable_temperature_module() -> None:
    g = torch.Generator().manual_seed(6)
    z1, z2 = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g)
    fixed, learned = InfoNCE(0.5), InfoNCE(0.5, learn_tau=True)
    assert [n for n, _ in learned.named_parameters()] == ["temperature.log_tau"]
    assert list(fixed.parameters()) == []
    torch.testing.assert_close(learned(z1, z2), fixed(z1, z2), **TOL)
    learned(z1, z2).backward()
    assert learned.temperature.log_tau.grad is not None and learned.temperature.log_tau.grad != 0
    opt = torch.optim.SGD(learned.parameters(), lr=0.5)
    opt.step()
    assert learned.tau != 0.5 and learned.tau > 0
    assert "learn_tau=True" in repr(learned)


def test_temperature_module() -> None:
    assert Temperature(0.2)() == 0.2  # exactly the given float when fixed
    t = Temperature(0.2, learnable=True, min=0.05, max=1.0)
    torch.testing.assert_close(t(), torch.tensor(0.2))
    with torch.no_grad():
        t.log_tau.fill_(math.log(5.0))
    assert abs(t.value - 1.0) < 1e-6  # clamped to max
    with pytest.raises(ValueError, match="init must be > 0"):
        Temperature(0.0)
    with pytest.raises(ValueError, match="min <= max"):
        Temperature(0.5, min=1.0, max=0.1)


def test_module_rejects_one_directional_arguments_when_symmetric() -> None:
    z = torch.randn(5, 3)
    with pytest.raises(ValueError, match="one-directional"):
        InfoNCE()(z, z, weight=torch.ones(5, 5))
    loss = InfoNCE(symmetric=False, intra_view=False)(z, z, weight=torch.ones(5, 5))
    torch.testing.assert_close(loss, info_nce(z, z, 0.5, intra_view=False), **TOL)


@pytest.mark.parametrize("intra_view", [True, False])
def test_chunked_forward_saves_no_block_sized_tensor(intra_view: bool) -> None:
    """Outside the checkpointed blocks autograd keeps only O(N d) tensors; without chunks it
    keeps N x M score matrices. (Inside a block checkpointing drops everything.)"""
    n, d = 64, 4
    g = torch.Generator().manual_seed(7)
    z1 = torch.randn(n, d, generator=g, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, requires_grad=True)

    def largest_saved(chunk_size):
        sizes = []

        def pack(t):
            sizes.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = info_nce(z1, z2, 0.5, chunk_size=chunk_size, intra_view=intra_view)
        loss.backward()
        return max(sizes)

    assert largest_saved(None) >= n * n
    assert largest_saved(8) <= n * d


def test_backward_recomputes_one_block_at_a_time() -> None:
    """The weight callable runs once per block in forward and once per block in backward."""
    z1, z2, w = data(n=10, m=10, seed=8)
    calls = []

    def weight_fn(s, e):
        calls.append((s, e))
        return w[s:e]

    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    loss = info_nce(a, b, 0.5, intra_view=False, chunk_size=4, weight=weight_fn)
    assert calls == [(0, 4), (4, 8), (8, 10)]
    loss.backward()
    assert sorted(calls[3:]) == [(0, 4), (4, 8), (8, 10)]


def test_adam_lowers_weighted_loss_with_learned_temperature() -> None:
    g = torch.Generator().manual_seed(9)
    z1 = torch.randn(24, 6, generator=g).requires_grad_()
    z2 = torch.randn(24, 6, generator=g).requires_grad_()
    w = torch.rand(24, 24, generator=g) + 0.5
    loss_fn = InfoNCE(0.5, symmetric=False, intra_view=False, chunk_size=7, learn_tau=True)
    losses = adam_losses(lambda: loss_fn(z1, z2, weight=w), [z1, z2, *loss_fn.parameters()])
    assert losses[-1] < losses[0] - 0.3


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 20), m_extra=st.integers(0, 5), chunk=st.integers(1, 25), seed=st.integers(0, 1000))
def test_weighted_chunking_never_changes_the_result(n: int, m_extra: int, chunk: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, 3, generator=g, dtype=torch.float64)
    z2 = torch.randn(n + m_extra, 3, generator=g, dtype=torch.float64)
    pos = torch.randint(0, n + m_extra, (n,), generator=g)
    w = torch.rand(n, n + m_extra, generator=g, dtype=torch.float64) + 0.1
    kw = dict(pos_index=pos, intra_view=False, weight=w)
    got = value_and_grads(lambda a, b: info_nce(a, b, 0.5, chunk_size=chunk, **kw), z1, z2)
    assert_close_all(got, value_and_grads(lambda a, b: info_nce(a, b, 0.5, **kw), z1, z2))
    assert_close_all(got[:1], (reference_weighted(z1, z2, 0.5, w, pos_index=pos),))
