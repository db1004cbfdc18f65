"""NT-Xent over 2B rows and MCLRec's contrastive regulariser against naive per-anchor references."""
from __future__ import annotations

import pytest
import torch
from loss_helpers import adam_losses, assert_close_all, value_and_grads

from gcl.losses import (
    ContrastiveRegularizer,
    NTXent,
    contrastive_regularizer,
    nt_xent,
    symmetric_info_nce,
    two_view_scores,
)
from gcl.losses.nt_xent import negative_mask, partner_index


def naive_scores(x: torch.Tensor, y: torch.Tensor, tau: float, similarity: str) -> torch.Tensor:
    u = torch.cat([x, y])
    if similarity == "cos":
        u = u / u.norm(dim=1, keepdim=True)
    n = u.size(0)
    return torch.stack([torch.stack([(u[i] * u[j]).sum() / tau for j in range(n)]) for i in range(n)])


def naive_parts(s: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(positive, negatives) of every anchor, written out index by index."""
    n = s.size(0)
    b = n // 2
    out = []
    for i in range(n):
        p = i + b if i < b else i - b
        out.append((s[i, p], torch.stack([s[i, j] for j in range(n) if j not in (i, p)])))
    return out


def naive_nt_xent(x, y, tau=1.0, similarity="dot"):
    s = naive_scores(x, y, tau, similarity)
    losses = [-(pos - torch.logsumexp(torch.cat([pos.view(1), neg]), 0)) for pos, neg in naive_parts(s)]
    return torch.stack(losses).mean()


def naive_regularizer(x, y, tau=1.0, similarity="dot"):
    s = naive_scores(x, y, tau, similarity)
    parts = naive_parts(s)
    n = len(parts)
    pos_term, neg_term = 0.0, 0.0
    for pos, neg in parts:
        m = neg.max()
        low, high = torch.minimum(pos, m), torch.maximum(pos, m)
        pos_term = pos_term + torch.clamp(pos - low, min=0) / n
        neg_term = neg_term + torch.clamp(high - neg, min=0).sum() / (n * (n - 2))
    return pos_term + neg_term


def views(b: int = 5, d: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, d, generator=g, dtype=torch.float64) * 2.0           # not unit norm (h̃)
    y = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)  # z̃
    return x, y


@pytest.mark.parametrize("similarity", ["dot", "cos"])
@pytest.mark.parametrize("tau", [1.0, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_nt_xent_equals_naive_reference(similarity: str, tau: float, seed: int) -> None:
    x, y = views(seed=seed)
    got = value_and_grads(lambda a, c: nt_xent(a, c, tau, similarity=similarity), x, y)
    want = value_and_grads(lambda a, c: naive_nt_xent(a, c, tau, similarity), x, y)
    assert_close_all(got, want)
    # the same number as the library's symmetric InfoNCE with same-view negatives
    sym = symmetric_info_nce(x, y, tau, intra_view=True, normalize=similarity == "cos")
    torch.testing.assert_close(got[0], sym)


@pytest.mark.parametrize("similarity", ["dot", "cos"])
@pytest.mark.parametrize("tau", [1.0, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regularizer_equals_naive_reference(similarity: str, tau: float, seed: int) -> None:
    x, y = views(seed=seed)
    got = value_and_grads(lambda a, c: contrastive_regularizer(a, c, tau, similarity=similarity), x, y)
    want = value_and_grads(lambda a, c: naive_regularizer(a, c, tau, similarity), x, y)
    assert_close_all(got, want)
    assert float(got[0]) > 0 and all(float(g.abs().sum()) > 0 for g in got[1:])


def test_regularizer_both_branches_and_homogeneity() -> None:
    # Anchor 0's positive above its hardest negative (P > m), anchor 2's below it (P < m):
    # both branches of min/max are exercised and the P-term is zero exactly when P <= m.
    x = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[2.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    s = two_view_scores(x, y)
    ref = naive_regularizer(x, y)
    torch.testing.assert_close(contrastive_regularizer(x, y), ref)
    pos = s.gather(1, partner_index(2, s.device).unsqueeze(1)).squeeze(1)
    hardest = s.masked_fill(~negative_mask(2, s.device), float("-inf")).amax(1)
    assert bool((pos > hardest).any()) and bool((pos < hardest).any())
    torch.testing.assert_close(contrastive_regularizer(x, y, 0.25), 4 * contrastive_regularizer(x, y))


def test_masks_are_cached_and_exact() -> None:
    m = negative_mask(4, torch.device("cpu"))
    assert m is negative_mask(4, torch.device("cpu"))
    assert m.sum(1).tolist() == [6] * 8
    assert not bool(m.diagonal().any())
    assert partner_index(4, torch.device("cpu")).tolist() == [4, 5, 6, 7, 0, 1, 2, 3]
    assert not bool(m[torch.arange(8), partner_index(4, torch.device("cpu"))].any())


def test_inputs_untouched_modules_and_errors() -> None:
    x, y = views()
    x0, y0 = x.clone(), y.clone()
    assert float(NTXent()(x, y)) == pytest.approx(float(nt_xent(x, y)))
    assert float(ContrastiveRegularizer(tau=0.5)(x, y)) == pytest.approx(float(contrastive_regularizer(x, y, 0.5)))
    assert torch.equal(x, x0) and torch.equal(y, y0)
    with pytest.raises(ValueError, match="B >= 2"):
        contrastive_regularizer(x[:1], y[:1])
    with pytest.raises(ValueError, match=r"x and y must both be \[B, d\]"):
        nt_xent(x, y[:3])
    with pytest.raises(ValueError, match="similarity"):
        nt_xent(x, y, similarity="l2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="temperature"):
        NTXent(tau=0.0)


def test_a_few_adam_steps_lower_nt_xent_plus_regularizer() -> None:
    x, y = views(b=8, d=6)
    x, y = x.float().requires_grad_(), y.float().requires_grad_()
    losses = adam_losses(lambda: nt_xent(x, y) + contrastive_regularizer(x, y), [x, y], steps=30)
    assert losses[-1] < losses[0]
