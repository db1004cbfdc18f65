"""BPR and its L2 terms against the LightGCN / LightGCL formulas."""
from __future__ import annotations

import pytest
import torch

from gcl.losses.bpr import BPRLoss, bpr_loss, embedding_l2
from loss_helpers import adam_losses, assert_close_all, value_and_grads


def test_bpr_equals_reference_with_lightgcn_regulariser() -> None:
    g = torch.Generator().manual_seed(0)
    u, p, n = (torch.randn(16, 4, generator=g, dtype=torch.float64) for _ in range(3))
    u0, p0, n0 = (torch.randn(16, 4, generator=g, dtype=torch.float64) for _ in range(3))

    def ref(u, p, n, u0, p0, n0):
        bpr = -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean()
        reg = 0.5 * (u0.norm() ** 2 + p0.norm() ** 2 + n0.norm() ** 2) / 16
        return bpr + 1e-2 * reg

    loss = BPRLoss(1e-2)
    got = value_and_grads(lambda *t: loss(t[0], t[1], t[2], reg=t[3:]), u, p, n, u0, p0, n0)
    assert_close_all(got, value_and_grads(ref, u, p, n, u0, p0, n0))


def test_sum_style_and_plain_bpr() -> None:
    g = torch.Generator().manual_seed(1)
    eu, ei = torch.randn(10, 3, generator=g), torch.randn(12, 3, generator=g)
    torch.testing.assert_close(embedding_l2([eu, ei], style="sum"), (eu ** 2).sum() + (ei ** 2).sum())
    pos, neg = torch.randn(9, generator=g), torch.randn(9, generator=g)
    torch.testing.assert_close(bpr_loss(pos, neg), -torch.nn.functional.logsigmoid(pos - neg).mean())
    # large margins stay finite (softplus, not log(sigmoid))
    assert torch.isfinite(bpr_loss(torch.tensor([-200.0]), torch.tensor([200.0])))


def test_errors() -> None:
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="same shape"):
        bpr_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="needs the tensors to regularise"):
        BPRLoss(0.1)(x, x, x)
    with pytest.raises(ValueError, match="reg_style must be one of"):
        BPRLoss(reg_style="l1")
    with pytest.raises(ValueError, match="positive batch_size"):
        embedding_l2([x])


def test_adam_lowers_bpr() -> None:
    g = torch.Generator().manual_seed(2)
    users = torch.randn(8, 4, generator=g).requires_grad_()
    items = torch.randn(10, 4, generator=g).requires_grad_()
    ui, pi, ni = torch.arange(8), torch.randint(0, 10, (8,), generator=g), torch.randint(0, 10, (8,), generator=g)
    ni = torch.where(ni == pi, (ni + 1) % 10, ni)
    loss = BPRLoss(1e-4)
    losses = adam_losses(lambda: loss(users[ui], items[pi], items[ni], reg=(users[ui], items[pi], items[ni])),
                         [users, items])
    assert losses[-1] < losses[0] - 0.3
