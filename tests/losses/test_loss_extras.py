"""DCL, debiased and hard-negative NT-Xent, Barlow Twins, VICReg, bootstrap loss, EMA target."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gcl.losses.barlow_twins import BarlowTwinsLoss, barlow_twins_loss
from gcl.losses.bootstrap import BootstrapLoss, bootstrap_loss, symmetric_bootstrap_loss
from gcl.losses.dcl import DecoupledContrastiveLoss, decoupled_contrastive_loss
from gcl.losses.debiased import DebiasedContrastiveLoss, debiased_info_nce
from gcl.losses.ema import EMATarget, cosine_momentum
from gcl.losses.hard_negative import HardNegativeContrastiveLoss, hard_negative_info_nce
from gcl.losses.infonce import info_nce
from gcl.losses.vicreg import VICRegLoss, vicreg_loss
from loss_helpers import TOL, adam_losses, assert_close_all, value_and_grads


def pair(n=10, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


# ----- DCL ---------------------------------------------------------------------------------

def ref_dcl(z1, z2, tau, sigma=None):
    """One direction of DCL/DCLW, dense: positive removed from the denominator."""
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    n = z1.size(0)
    cross = z1 @ z2.T
    pos = -cross.diagonal() / tau
    if sigma is not None:
        pos = pos * (2 - n * torch.softmax((z1 * z2).sum(1) / sigma, dim=0))
    neg = torch.cat([z1 @ z1.T, cross], dim=1) / tau
    keep = 1 - torch.eye(n, dtype=z1.dtype).repeat(1, 2)
    return (pos + torch.log((torch.exp(neg) * keep).sum(1))).mean()


@pytest.mark.parametrize("sigma", [None, 0.5])
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_dcl_equals_reference(sigma, chunk_size) -> None:
    z1, z2 = pair()
    got = value_and_grads(lambda a, b: decoupled_contrastive_loss(a, b, 0.3, sigma=sigma, chunk_size=chunk_size), z1, z2)
    assert_close_all(got, value_and_grads(lambda a, b: ref_dcl(a, b, 0.3, sigma), z1, z2))
    sym = value_and_grads(lambda a, b: DecoupledContrastiveLoss(0.3, sigma=sigma, chunk_size=chunk_size)(a, b), z1, z2)
    want = value_and_grads(lambda a, b: 0.5 * (ref_dcl(a, b, 0.3, sigma) + ref_dcl(b, a, 0.3, sigma)), z1, z2)
    assert_close_all(sym, want)


def test_dcl_differs_from_info_nce_by_the_positive_term() -> None:
    z1, z2 = pair(seed=1)
    # InfoNCE = DCL + log(1 + exp(pos) / sum_neg exp), so InfoNCE > DCL
    assert float(info_nce(z1, z2, 0.3)) > float(decoupled_contrastive_loss(z1, z2, 0.3))


# ----- debiased / hard negatives ------------------------------------------------------------

def ref_hcl(out_1, out_2, tau, tau_plus, beta):
    """The original two-view estimator over 2B anchors, dense, with plain exponentials."""
    bsz = out_1.size(0)
    out_1, out_2 = F.normalize(out_1, dim=1), F.normalize(out_2, dim=1)
    out = torch.cat([out_1, out_2])
    neg = torch.exp(out @ out.T / tau)
    mask = torch.ones(2 * bsz, 2 * bsz, dtype=torch.bool)
    for i in range(bsz):
        mask[i, i] = mask[i, i + bsz] = mask[i + bsz, i + bsz] = mask[i + bsz, i] = False
    neg = neg.masked_select(mask).view(2 * bsz, -1)
    pos = torch.exp((out_1 * out_2).sum(-1) / tau)
    pos = torch.cat([pos, pos])
    k = 2 * bsz - 2
    imp = (beta * neg.log()).exp()
    reweight = (imp * neg).sum(-1) / imp.mean(-1)
    ng = (-tau_plus * k * pos + reweight) / (1 - tau_plus)
    ng = torch.clamp(ng, min=k * math.e ** (-1 / tau))
    return (-torch.log(pos / (pos + ng))).mean()


@pytest.mark.parametrize("tau_plus, beta", [(0.0, 0.0), (0.1, 0.0), (0.1, 1.0), (0.3, 0.5)])
@pytest.mark.parametrize("chunk_size", [None, 4])
def test_debiased_and_hard_negative_equal_original_form(tau_plus, beta, chunk_size) -> None:
    z1, z2 = pair(seed=2)
    got = value_and_grads(lambda a, b: debiased_info_nce(a, b, 0.5, tau_plus=tau_plus, beta=beta, symmetric=True,
                                                         chunk_size=chunk_size), z1, z2)
    assert_close_all(got, value_and_grads(lambda a, b: ref_hcl(a, b, 0.5, tau_plus, beta), z1, z2))


def test_floor_is_active_for_large_prior_and_plain_case_is_nt_xent() -> None:
    z1, z2 = pair(seed=3)
    z2 = z1 + 0.01 * z2  # near-identical views: the debiased negative mass goes below the floor
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    out = torch.cat([a, b])
    k = 2 * 10 - 2
    neg_mass = torch.exp(out @ out.T / 0.5).sum(1) - math.e ** 2 - torch.exp((out * out.roll(10, 0)).sum(1) / 0.5)
    pos = torch.exp((out * out.roll(10, 0)).sum(1) / 0.5)
    assert ((neg_mass - 0.5 * k * pos) / 0.5 < k * math.exp(-2)).all()  # the floor is what counts
    got = value_and_grads(lambda a, b: debiased_info_nce(a, b, 0.5, tau_plus=0.5, symmetric=True), z1, z2)
    assert_close_all(got, value_and_grads(lambda a, b: ref_hcl(a, b, 0.5, 0.5, 0.0), z1, z2))
    torch.testing.assert_close(debiased_info_nce(z1, z2, 0.5, tau_plus=0.0, symmetric=True),
                               info_nce(z1, z2, 0.5, intra_view=True).add(info_nce(z2, z1, 0.5)).div(2), **TOL)


def test_modules_and_errors() -> None:
    z1, z2 = pair(seed=4)
    torch.testing.assert_close(HardNegativeContrastiveLoss(0.5, beta=1.0, tau_plus=0.1)(z1, z2),
                               hard_negative_info_nce(z1, z2, 0.5, beta=1.0, tau_plus=0.1, symmetric=True))
    torch.testing.assert_close(DebiasedContrastiveLoss(0.5, tau_plus=0.1, chunk_size=3)(z1, z2),
                               ref_hcl(z1, z2, 0.5, 0.1, 0.0), **TOL)
    with pytest.raises(ValueError, match=r"tau_plus must lie in \[0, 1\)"):
        debiased_info_nce(z1, z2, tau_plus=1.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        hard_negative_info_nce(z1, z2, beta=-1.0)
    with pytest.raises(ValueError, match="needs row-aligned positives"):
        debiased_info_nce(z1, z2, symmetric=True, pos_index=torch.arange(10))


def test_pos_index_one_direction() -> None:
    g = torch.Generator().manual_seed(5)
    z1, z2 = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(9, 3, generator=g, dtype=torch.float64)
    pos = torch.tensor([8, 0, 3, 3, 5, 1])
    # beta = tau_plus = 0 is NT-Xent; DCL without intra negatives is InfoNCE with the positive's weight 0
    torch.testing.assert_close(debiased_info_nce(z1, z2, 0.5, tau_plus=0.0, pos_index=pos, chunk_size=4),
                               info_nce(z1, z2, 0.5, pos_index=pos), **TOL)
    torch.testing.assert_close(decoupled_contrastive_loss(z1, z2, 0.5, pos_index=pos, intra_view=False),
                               info_nce(z1, z2, 0.5, pos_index=pos, intra_view=False,
                                        weight=1.0 - F.one_hot(pos, 9).double()), **TOL)


@pytest.mark.parametrize("make", [
    lambda: DecoupledContrastiveLoss(0.3, chunk_size=8),
    lambda: DebiasedContrastiveLoss(0.5, tau_plus=0.1, chunk_size=8),
    lambda: HardNegativeContrastiveLoss(0.5, beta=1.0, learn_tau=True),
])
def test_adam_lowers_nt_xent_variants(make) -> None:
    z1, z2 = pair(n=24, d=6, seed=6, dtype=torch.float32)
    z1.requires_grad_(), z2.requires_grad_()
    loss = make()
    losses = adam_losses(lambda: loss(z1, z2), [z1, z2, *loss.parameters()])
    assert losses[-1] < losses[0] - 0.2


# ----- Barlow Twins, VICReg ------------------------------------------------------------------

def test_barlow_twins_equals_batchnorm_reference() -> None:
    z1, z2 = pair(n=16, d=6, seed=7)

    def ref(a, b, lambd):
        bn = nn.BatchNorm1d(6, affine=False).double().train()
        c = bn(a).T @ bn(b) / a.size(0)
        on = (torch.diagonal(c) - 1).pow(2).sum()
        off = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
        return on + lambd * off

    assert_close_all(value_and_grads(lambda a, b: barlow_twins_loss(a, b), z1, z2),
                     value_and_grads(lambda a, b: ref(a, b, 0.0051), z1, z2))
    torch.testing.assert_close(BarlowTwinsLoss(None)(z1, z2), ref(z1, z2, 1 / 6))


def test_vicreg_equals_reference() -> None:
    x, y = pair(n=16, d=6, seed=8)

    def ref(x, y):
        inv = ((x - y) ** 2).mean()
        xc, yc = x - x.mean(0), y - y.mean(0)
        std_x = torch.sqrt(xc.var(dim=0) + 1e-4)
        std_y = torch.sqrt(yc.var(dim=0) + 1e-4)
        var = torch.relu(1 - std_x).mean() / 2 + torch.relu(1 - std_y).mean() / 2
        cx, cy = xc.T @ xc / 15, yc.T @ yc / 15
        off = 1 - torch.eye(6, dtype=x.dtype)
        cov = ((cx * off) ** 2).sum() / 6 + ((cy * off) ** 2).sum() / 6
        return 25 * inv + 25 * var + cov

    x = x * 0.5  # some std below gamma = 1, so the variance hinge is active
    assert_close_all(value_and_grads(vicreg_loss, x, y), value_and_grads(ref, x, y))
    torch.testing.assert_close(VICRegLoss(sim_coeff=1.0)(x, y) - vicreg_loss(x, y), -24 * F.mse_loss(x, y))


@pytest.mark.parametrize("loss", [BarlowTwinsLoss(), VICRegLoss()])
def test_adam_lowers_redundancy_losses(loss) -> None:
    g = torch.Generator().manual_seed(9)
    w = torch.randn(8, 8, generator=g, requires_grad=True)
    x = torch.randn(64, 8, generator=g)
    noise = torch.randn(64, 8, generator=g) * 0.1
    losses = adam_losses(lambda: loss(x @ w, (x + noise) @ w), [w], lr=0.02)
    assert losses[-1] < 0.8 * losses[0]


# ----- bootstrap + EMA ------------------------------------------------------------------------

def test_bootstrap_loss() -> None:
    q, y = pair(seed=10)
    got = value_and_grads(lambda a, b: bootstrap_loss(a, b), q, y)
    yd = y / y.norm(dim=1, keepdim=True)
    want = value_and_grads(lambda a: 2 - 2 * ((a / a.norm(dim=1, keepdim=True)) * yd).sum(1).mean(), q)
    assert_close_all(got[:2], want)
    assert got[2] is None  # the target gets no gradient
    q2, y2 = pair(seed=11)
    torch.testing.assert_close(symmetric_bootstrap_loss(q, y2, q2, y),
                               2 - F.cosine_similarity(q, y2).mean() - F.cosine_similarity(q2, y).mean())
    torch.testing.assert_close(BootstrapLoss(symmetric=True)(q, y2, q2, y), symmetric_bootstrap_loss(q, y2, q2, y))
    with pytest.raises(ValueError, match=r"takes \(pred, target\)"):
        BootstrapLoss()(q, y, q)


class Online(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2)
        self.tied = self.head  # a shared submodule: its weights are shared parameters


def test_ema_target_is_outside_the_optimizer_and_follows_the_formula() -> None:
    torch.manual_seed(12)
    online = Online()
    model = nn.ModuleDict({"online": online})
    model["ema"] = EMATarget(online, momentum=0.9)
    names = [n for n, _ in model.named_parameters()]
    assert names and all(n.startswith("online.") for n in names)
    assert "ema.target.lin.weight" in model.state_dict() and "online.lin.weight" in model.state_dict()
    assert not any(k.startswith("ema._online") for k in model.state_dict())
    before = model["ema"].target.lin.weight.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 3)
    online.head(online.bn(online.lin(x))).pow(2).sum().backward()
    opt.step()
    model["ema"].update()
    torch.testing.assert_close(model["ema"].target.lin.weight, 0.9 * before + 0.1 * online.lin.weight.detach())
    assert model["ema"].target.tied.weight is model["ema"].target.head.weight  # sharing kept
    out = model["ema"].target.lin(x)
    assert not out.requires_grad
    # loading a state dict restores the target too
    clone = nn.ModuleDict({"online": Online()})
    clone["ema"] = EMATarget(clone["online"])
    clone.load_state_dict(model.state_dict())
    torch.testing.assert_close(clone["ema"].target.lin.weight, model["ema"].target.lin.weight)
    # .to() converts the target as well
    model.double()
    assert model["ema"].target.lin.weight.dtype == torch.float64
    model["ema"].update(momentum=0.0)
    torch.testing.assert_close(model["ema"].target.lin.weight, online.lin.weight.detach())
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\]"):
        EMATarget(online, momentum=1.5)


def test_cosine_momentum() -> None:
    assert cosine_momentum(0, 100, 0.99) == pytest.approx(0.99)
    assert cosine_momentum(100, 100, 0.99) == pytest.approx(1.0)
    assert cosine_momentum(50, 100, 0.99) == pytest.approx(0.995)
    vals = [cosine_momentum(s, 10) for s in range(11)]
    assert np.all(np.diff(vals) >= 0)
