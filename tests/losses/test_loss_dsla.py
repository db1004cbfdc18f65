"""D-SLA discriminator, edit-distance and margin losses against a per-molecule reference."""
from __future__ import annotations

import itertools

import pytest
import torch

from gcl.losses.dsla import (DSLALoss, dsla_discriminator_loss, dsla_edit_loss, dsla_margin_loss,
                             to_molecule_major)
from loss_helpers import adam_losses, assert_close_all, value_and_grads

B, C, DIM = 6, 5, 7


def flat_index(a: int, c: int, layout: str) -> int:
    return c * B + a if layout == "candidate" else a * C + c


def ref_dsla(scores, h, e, layout, lam1=0.7, lam2=0.5, alpha=5.0):
    """Plain loops over molecules of the flat [C*B] batch; e[flat] = edit distance (e_0 = 0)."""
    gd, edit_terms, margin_terms = [], [], []
    for a in range(B):
        s = torch.stack([scores[flat_index(a, c, layout)] for c in range(C)])
        gd.append(-torch.log(torch.exp(s[0]) / torch.exp(s).sum()))
        h0 = h[flat_index(a, 0, layout)]
        ratios = {}
        for c in range(1, C):
            ec = e[flat_index(a, c, layout)]
            if ec > 0:
                ratios[c] = torch.linalg.norm(h[flat_index(a, c, layout)] - h0) / ec
        for c, c2 in itertools.combinations(range(1, C), 2):
            if c in ratios and c2 in ratios:
                edit_terms.append((ratios[c] - ratios[c2]) ** 2)
        for b in range(B):
            if b == a:
                continue
            neg = torch.linalg.norm(h0 - h[flat_index(b, 0, layout)])
            for c in range(1, C - 1):  # strong candidate (last) excluded
                pos = torch.linalg.norm(h0 - h[flat_index(a, c, layout)])
                margin_terms.append(torch.clamp(alpha + pos - neg, min=0))
    edit = torch.stack(edit_terms).mean() if edit_terms else torch.zeros((), dtype=h.dtype)
    return torch.stack(gd).mean() + lam1 * edit + lam2 * torch.stack(margin_terms).mean()


def batch(seed: int = 0, layout: str = "candidate"):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(C * B, generator=g, dtype=torch.float64)
    h = torch.randn(C * B, DIM, generator=g, dtype=torch.float64)
    per_mol = torch.tensor([0, 1, 2, 3, 6], dtype=torch.float64) + torch.randint(0, 3, (B, C), generator=g) * \
        torch.tensor([0, 1, 1, 1, 1])
    e = torch.empty(C * B, dtype=torch.float64)
    for a in range(B):
        for c in range(C):
            e[flat_index(a, c, layout)] = per_mol[a, c]
    return scores, h, e


def ours(scores, h, e, layout, **kw):
    s = to_molecule_major(scores, C, layout)
    hh = to_molecule_major(h, C, layout)
    ee = to_molecule_major(e, C, layout)
    return DSLALoss(**kw)(s, hh, ee[:, 1:])


@pytest.mark.parametrize("layout", ["candidate", "molecule"])
def test_equals_per_molecule_reference(layout: str) -> None:
    scores, h, e = batch(0, layout)
    got = value_and_grads(lambda s, x: ours(s, x, e, layout), scores, h)
    want = value_and_grads(lambda s, x: ref_dsla(s, x, e, layout), scores, h)
    assert_close_all(got, want)
    # the layout matters: reading one ordering as the other gives another value
    other = "molecule" if layout == "candidate" else "candidate"
    assert not torch.allclose(ours(scores, h, e, other), got[0])


def test_zero_edit_distances_are_left_out() -> None:
    scores, h, e = batch(1)
    e[flat_index(2, 3, "candidate")] = 0.0
    e[flat_index(4, 1, "candidate")] = 0.0
    got = value_and_grads(lambda s, x: ours(s, x, e, "candidate"), scores, h)
    want = value_and_grads(lambda s, x: ref_dsla(s, x, e, "candidate"), scores, h)
    assert_close_all(got, want)
    assert torch.isfinite(got[2]).all()


def test_components_and_weights() -> None:
    scores, h, e = batch(2)
    s, hh = to_molecule_major(scores, C), to_molecule_major(h, C)
    edit = to_molecule_major(e, C)[:, 1:]
    parts = DSLALoss().parts(s, hh, edit)
    total = DSLALoss(edit_weight=2.0, margin_weight=3.0, margin=1.0)(s, hh, edit)
    torch.testing.assert_close(total, parts["gd"] + 2.0 * parts["edit"] + 3.0 * dsla_margin_loss(hh[:, :-1], 1.0))
    torch.testing.assert_close(parts["gd"], dsla_discriminator_loss(s))
    torch.testing.assert_close(parts["edit"], dsla_edit_loss(hh, edit))
    assert 0 <= float(parts["gd_acc"]) <= 1
    no_strong = DSLALoss(strong=False).parts(s, hh, edit)["margin"]
    torch.testing.assert_close(no_strong, dsla_margin_loss(hh, 5.0))


def test_no_nan_when_candidates_coincide() -> None:
    h = torch.zeros(B, C, DIM, dtype=torch.float64)  # every distance is 0
    scores = torch.zeros(B, C, dtype=torch.float64)
    edit = torch.ones(B, C - 1, dtype=torch.float64)
    out = value_and_grads(lambda s, x: DSLALoss()(s, x, edit), scores, h)
    assert all(torch.isfinite(t).all() for t in out)
    torch.testing.assert_close(out[0], torch.log(torch.tensor(float(C), dtype=torch.float64)) + 0.5 * 5.0)


def test_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"edit must be \[B, C-1\]"):
        dsla_edit_loss(torch.randn(2, 5, 3), torch.ones(2, 5))
    with pytest.raises(ValueError, match="not a multiple of num_candidates=5"):
        to_molecule_major(torch.randn(11, 3), 5)
    with pytest.raises(ValueError, match="layout must be"):
        to_molecule_major(torch.randn(10, 3), 5, "graph")
    assert float(dsla_margin_loss(torch.randn(1, 4, 3))) == 0.0


def test_adam_lowers_the_loss() -> None:
    scores, h, e = batch(3)
    s = to_molecule_major(scores, C).float().clone().requires_grad_()
    hh = to_molecule_major(h, C).float().clone().requires_grad_()
    edit = to_molecule_major(e, C)[:, 1:].float()
    loss_fn = DSLALoss()
    losses = adam_losses(lambda: loss_fn(s, hh, edit), [s, hh], lr=0.05)
    assert losses[-1] < losses[0] - 0.5
