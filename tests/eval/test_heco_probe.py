"""gcl.eval.heco_probe: the batched runs equal a plain per-run HeCo loop (nn.Linear + Adam +
scikit-learn metrics, first-index selection); separable data scores ~1; label-rate wrapper."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

from gcl.eval.heco_probe import HeCoProbeResult, heco_probe, heco_protocol



def blobs(n_per: int, c: int, d: int, spread: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, d, generator=g) * 2
    y = torch.arange(c).repeat_interleave(n_per)
    x = centers[y] + spread * torch.randn(c * n_per, d, generator=g)
    perm = torch.randperm(c * n_per, generator=g)
    return x[perm], y[perm]


def reference_run(x, y, tr, va, te, w_init, lr, wd, epochs):
    """One HeCo run as the original loop writes it."""
    c = int(y.max()) + 1
    lin = torch.nn.Linear(x.size(1), c)
    with torch.no_grad():
        lin.weight.copy_(w_init.T)
        lin.bias.zero_()
    opt = torch.optim.Adam(lin.parameters(), lr=lr, weight_decay=wd)
    val_ma, val_mi, test_ma, test_mi, test_logits = [], [], [], [], []
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin(x[tr]), y[tr]).backward()
        opt.step()
        with torch.no_grad():
            pv = lin(x[va]).argmax(1).numpy()
            ls = lin(x[te])
            ps = ls.argmax(1).numpy()
        val_ma.append(f1_score(y[va].numpy(), pv, average="macro"))
        val_mi.append(f1_score(y[va].numpy(), pv, average="micro"))
        test_ma.append(f1_score(y[te].numpy(), ps, average="macro"))
        test_mi.append(f1_score(y[te].numpy(), ps, average="micro"))
        test_logits.append(ls)
    i_ma = val_ma.index(max(val_ma))
    i_mi = val_mi.index(max(val_mi))
    probs = torch.softmax(test_logits[i_mi], 1).numpy()
    auc = roc_auc_score(y[te].numpy(), probs, multi_class="ovr")
    return test_ma[i_ma], test_mi[i_mi], auc, i_ma, i_mi


def test_equals_per_run_reference_loop() -> None:
    x, y = blobs(30, 3, 6, 2.5, 0)  # overlapping classes: metrics move between epochs
    tr, va, te = torch.arange(0, 24), torch.arange(24, 54), torch.arange(54, 90)
    runs, epochs, lr, wd = 4, 40, 0.05, 1e-3
    res = heco_probe(x, y, tr, va, te, lr=lr, weight_decay=wd, epochs=epochs, runs=runs,
                     generator=torch.Generator().manual_seed(7))
    w0 = torch.rand(runs, 6, 3, generator=torch.Generator().manual_seed(7))
    bound = math.sqrt(6 / (6 + 3))
    refs = [reference_run(x, y, tr, va, te, (w0[r] * 2 - 1) * bound, lr, wd, epochs) for r in range(runs)]
    ma, mi, auc, e_ma, e_mi = (np.array(v) for v in zip(*refs))
    np.testing.assert_allclose(res.runs["macro_f1"], ma, atol=1e-6)
    np.testing.assert_allclose(res.runs["micro_f1"], mi, atol=1e-6)
    np.testing.assert_allclose(res.runs["auc"], auc, atol=1e-5)
    assert res.runs["macro_epoch"] == e_ma.tolist() and res.runs["micro_epoch"] == e_mi.tolist()
    assert len(set(res.runs["micro_epoch"])) > 1 or max(res.runs["micro_epoch"]) > 0
    assert abs(res.macro_f1 - ma.mean()) < 1e-6 and abs(res.macro_f1_std - ma.std()) < 1e-6
    assert abs(res.auc - auc.mean()) < 1e-5 and abs(res.micro_f1_std - mi.std()) < 1e-6


def test_separable_case_scores_one() -> None:
    x, y = blobs(40, 4, 8, 0.05, 1)
    tr, va, te = torch.arange(40), torch.arange(40, 80), torch.arange(80, 160)
    res = heco_probe(x, y, tr, va, te, lr=0.05, epochs=100, runs=5, generator=torch.Generator().manual_seed(0))
    assert isinstance(res, HeCoProbeResult)
    assert res.macro_f1 > 0.99 and res.micro_f1 > 0.99
    # AUC is read at the *first* epoch of the best validation micro-F1, possibly very early
    # (HeCo's protocol), so it can stay below 1 even when the classes separate perfectly.
    assert res.auc > 0.9 and max(res.runs["auc"]) == 1.0
    assert set(res.as_dict("acm_")) == {"acm_macro_f1", "acm_macro_f1_std", "acm_micro_f1",
                                       "acm_micro_f1_std", "acm_auc", "acm_auc_std"}


def test_seeded_reproducible_masks_and_label_rates() -> None:
    x, y = blobs(20, 3, 5, 1.5, 2)
    masks = [torch.zeros(60, dtype=torch.bool) for _ in range(3)]
    masks[0][:20], masks[1][20:40], masks[2][40:] = True, True, True
    a = heco_probe(x, y, *masks, epochs=20, runs=3, generator=torch.Generator().manual_seed(3))
    b = heco_probe(x, y, torch.arange(20), torch.arange(20, 40), torch.arange(40, 60), epochs=20,
                   runs=3, generator=torch.Generator().manual_seed(3))
    assert a == b and a.runs == b.runs
    out = heco_protocol(x, y, {20: (torch.arange(20), torch.arange(20, 40), torch.arange(40, 60)),
                               40: (torch.arange(40), torch.arange(40, 50), torch.arange(50, 60))},
                        epochs=10, runs=2)
    assert list(out) == [20, 40] and all(isinstance(r, HeCoProbeResult) for r in out.values())


def test_errors() -> None:
    x, y = blobs(5, 2, 3, 1.0, 0)
    idx = torch.arange(4)
    with pytest.raises(ValueError, match="test_idx is empty"):
        heco_probe(x, y, idx, idx, torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match="val_idx holds node ids"):
        heco_probe(x, y, idx, torch.tensor([10]), idx)
    with pytest.raises(ValueError, match="labels"):
        heco_probe(x, y[:3], idx, idx, idx)
    with pytest.raises(ValueError, match="runs"):
        heco_probe(x, y, idx, idx, idx, runs=0)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device: str) -> None:
    x, y = blobs(20, 3, 5, 1.0, 6)
    args = (torch.arange(20), torch.arange(20, 40), torch.arange(40, 60))
    here = heco_probe(x.to(device), y.to(device), *args, epochs=10, runs=2,
                      generator=torch.Generator().manual_seed(0))
    cpu = heco_probe(x, y, *args, epochs=10, runs=2, generator=torch.Generator().manual_seed(0))
    assert here.macro_f1 == pytest.approx(cpu.macro_f1, abs=1e-4)
