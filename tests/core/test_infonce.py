"""gcl.losses.infonce against a plain dense reference: values, gradients, chunking, errors."""
from __future__ import annotations

import pytest
import torch

from gcl.losses.infonce import InfoNCE, info_nce, symmetric_info_nce

TOL = dict(atol=1e-5, rtol=1e-5)


def reference_info_nce(
    z1: torch.Tensor,
    z2: torch.Tensor,
    tau: float,
    *,
    pos_index: torch.Tensor | None = None,
    intra_view: bool = True,
    normalize: bool = True,
) -> torch.Tensor:
    """mean_i -log( exp(s(a_i, c_p(i))) / (sum_j exp s(a_i, c_j) + sum_{j != i} exp s(a_i, a_j)) ),
    written with the full N x M (and N x N) matrices of exponentials."""
    if normalize:
        z1 = z1 / z1.norm(dim=1, keepdim=True)
        z2 = z2 / z2.norm(dim=1, keepdim=True)
    n = z1.size(0)
    if pos_index is None:
        pos_index = torch.arange(n)
    inter = torch.exp(z1 @ z2.T / tau)  # [N, M]
    pos = inter[torch.arange(n), pos_index]
    denom = inter.sum(dim=1)
    if intra_view:
        not_self = 1.0 - torch.eye(n, dtype=z1.dtype)
        denom = denom + (torch.exp(z1 @ z1.T / tau) * not_self).sum(dim=1)
    return -torch.log(pos / denom).mean()


def leaves(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.detach().clone().requires_grad_() for t in tensors]


def value_and_grads(fn, z1: torch.Tensor, z2: torch.Tensor):
    a, b = leaves(z1, z2)
    loss = fn(a, b)
    loss.backward()
    return loss.detach(), a.grad, b.grad


def assert_same(got, want) -> None:
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, **TOL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("intra_view", [True, False])
def test_equals_dense_reference(dtype: torch.dtype, normalize: bool, intra_view: bool) -> None:
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(9, 5, generator=g, dtype=dtype) * 0.6
    z2 = torch.randn(9, 5, generator=g, dtype=dtype) * 0.6
    kw = dict(intra_view=intra_view, normalize=normalize)
    got = value_and_grads(lambda a, b: info_nce(a, b, 0.4, **kw), z1, z2)
    want = value_and_grads(lambda a, b: reference_info_nce(a, b, 0.4, **kw), z1, z2)
    assert got[0].dtype == dtype
    assert_same(got, want)


@pytest.mark.parametrize("intra_view", [True, False])
def test_pos_index_equals_reference(intra_view: bool) -> None:
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(7, 4, generator=g)
    z2 = torch.randn(11, 4, generator=g)  # more candidates than anchors
    pos = torch.tensor([3, 0, 10, 3, 7, 1, 5])
    kw = dict(pos_index=pos, intra_view=intra_view)
    got = value_and_grads(lambda a, b: info_nce(a, b, 0.3, **kw), z1, z2)
    want = value_and_grads(lambda a, b: reference_info_nce(a, b, 0.3, **kw), z1, z2)
    assert_same(got, want)
    # the positive index really matters
    other = info_nce(z1, z2, 0.3, pos_index=pos.roll(1), intra_view=intra_view)
    assert not torch.allclose(other, got[0])


def test_known_value_of_identical_orthogonal_views() -> None:
    # z1 = z2 = I (3 x 3), tau = 1: pos = e, inter = e + 2, intra = 2  ->  log((e + 4) / e)
    z = torch.eye(3)
    expected = torch.log(torch.tensor((torch.e + 4) / torch.e))
    torch.testing.assert_close(info_nce(z, z, 1.0), expected)
    torch.testing.assert_close(
        info_nce(z, z, 1.0, intra_view=False), torch.log(torch.tensor((torch.e + 2) / torch.e))
    )


@pytest.mark.parametrize("chunk_size", [1, 7, 20, 64])
@pytest.mark.parametrize("intra_view", [True, False])
def test_chunked_equals_unchunked(chunk_size: int, intra_view: bool) -> None:
    g = torch.Generator().manual_seed(2)
    z1 = torch.randn(20, 6, generator=g, dtype=torch.float64)
    z2 = torch.randn(20, 6, generator=g, dtype=torch.float64)
    pos = torch.randperm(20, generator=g)
    for kw in (dict(intra_view=intra_view), dict(intra_view=intra_view, pos_index=pos)):
        got = value_and_grads(lambda a, b: info_nce(a, b, 0.5, chunk_size=chunk_size, **kw), z1, z2)
        want = value_and_grads(lambda a, b: info_nce(a, b, 0.5, **kw), z1, z2)
        assert_same(got, want)
        ref = value_and_grads(lambda a, b: reference_info_nce(a, b, 0.5, **kw), z1, z2)
        assert_same(got, ref)


@pytest.mark.parametrize("intra_view", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_symmetric_is_mean_of_both_directions(intra_view: bool, normalize: bool) -> None:
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(10, 4, generator=g) * 0.7
    z2 = torch.randn(10, 4, generator=g) * 0.7
    kw = dict(intra_view=intra_view, normalize=normalize)
    got = value_and_grads(lambda a, b: symmetric_info_nce(a, b, 0.5, **kw), z1, z2)
    want = value_and_grads(
        lambda a, b: 0.5 * (reference_info_nce(a, b, 0.5, **kw) + reference_info_nce(b, a, 0.5, **kw)),
        z1,
        z2,
    )
    assert_same(got, want)
    # the two directions differ, so averaging is really tested
    assert not torch.allclose(info_nce(z1, z2, 0.5, **kw), info_nce(z2, z1, 0.5, **kw))


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("intra_view", [True, False])
def test_module_with_chunks_equals_without(symmetric: bool, intra_view: bool) -> None:
    g = torch.Generator().manual_seed(4)
    z1 = torch.randn(13, 5, generator=g)
    z2 = torch.randn(13, 5, generator=g)
    plain = InfoNCE(0.5, symmetric=symmetric, intra_view=intra_view)
    chunked = InfoNCE(0.5, symmetric=symmetric, intra_view=intra_view, chunk_size=4)
    assert_same(value_and_grads(chunked, z1, z2), value_and_grads(plain, z1, z2))
    direction = lambda a, b: reference_info_nce(a, b, 0.5, intra_view=intra_view)  # noqa: E731
    want = (lambda a, b: 0.5 * (direction(a, b) + direction(b, a))) if symmetric else direction
    assert_same(value_and_grads(plain, z1, z2), value_and_grads(want, z1, z2))
    assert "chunk_size=4" in repr(chunked)


@pytest.mark.parametrize("chunk_size", [None, 10])
def test_adam_steps_lower_the_loss(chunk_size: int | None) -> None:
    g = torch.Generator().manual_seed(5)
    z1 = torch.randn(32, 8, generator=g).requires_grad_()
    z2 = torch.randn(32, 8, generator=g).requires_grad_()
    loss_fn = InfoNCE(0.5, chunk_size=chunk_size)
    opt = torch.optim.Adam([z1, z2], lr=0.05)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = loss_fn(z1, z2)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] - 0.3
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:]))


def test_no_grad_chunked_forward() -> None:
    g = torch.Generator().manual_seed(6)
    z1, z2 = torch.randn(9, 3, generator=g), torch.randn(9, 3, generator=g)
    with torch.no_grad():
        got = info_nce(z1, z2, 0.5, chunk_size=2)
    torch.testing.assert_close(got, reference_info_nce(z1, z2, 0.5), **TOL)


@pytest.mark.parametrize(
    "z1_shape, z2_shape, kwargs, message",
    [
        ((4, 3), (4, 3), dict(tau=0.0), "tau must be > 0, got 0.0"),
        ((4, 3), (4, 3), dict(tau=-1.0), "tau must be > 0, got -1.0"),
        ((4,), (4, 3), {}, r"must be \[N, d\] and \[M, d\], got \(4,\) and \(4, 3\)"),
        ((4, 3), (4, 2), {}, r"got \(4, 3\) and \(4, 2\)"),
        ((4, 3), (5, 3), {}, "row-aligned positives need z1 and z2 of equal length, got 4 and 5"),
        ((4, 3), (5, 3), dict(pos_index=torch.zeros(3, dtype=torch.long)),
         r"pos_index must have shape \[4\], got \(3,\)"),
    ],
)
def test_info_nce_bad_input(z1_shape, z2_shape, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        info_nce(torch.randn(*z1_shape), torch.randn(*z2_shape), **kwargs)


def test_symmetric_bad_input() -> None:
    with pytest.raises(ValueError, match="tau must be > 0, got 0"):
        symmetric_info_nce(torch.randn(4, 3), torch.randn(4, 3), 0)
    with pytest.raises(ValueError, match=r"must both be \[N, d\], got \(4, 3\) and \(5, 3\)"):
        symmetric_info_nce(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="must both be"):
        InfoNCE()(torch.randn(4, 3), torch.randn(4, 2))
