"""gcl.eval.probe.linear_probe: accuracy on separable data, selection on validation only."""
from __future__ import annotations

import math

import pytest
import torch

from gcl.eval.probe import ProbeResult, linear_probe


def separable(seed: int = 0, per_class: int = 40, num_classes: int = 4, dim: int = 6):
    """Tight clusters around orthogonal centres, shuffled, with a 25/25/50 split."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_classes).repeat_interleave(per_class)
    x = torch.eye(num_classes, dim)[y] * 5 + 0.3 * torch.randn(y.numel(), dim, generator=g)
    perm = torch.randperm(y.numel(), generator=g)
    n = y.numel()
    return x, y, perm[: n // 4], perm[n // 4 : n // 2], perm[n // 2 :]


def test_separable_data_reaches_full_accuracy() -> None:
    x, y, tr, va, te = separable()
    res = linear_probe(x, y, tr, va, te, epochs=150)
    assert isinstance(res, ProbeResult)
    assert (res.train_acc, res.val_acc, res.test_acc) == (1.0, 1.0, 1.0)
    assert res.weight_decay == 0.0  # every decay ties at 1.0: the smallest wins
    assert res.as_dict("probe_") == {
        "probe_val_acc": 1.0, "probe_test_acc": 1.0, "probe_train_acc": 1.0,
        "probe_weight_decay": 0.0,
    }


def test_shuffled_labels_are_not_learned() -> None:
    # the probe must not reach full accuracy when the labels carry no signal
    x, y, tr, va, te = separable(1)
    y_noise = y[torch.randperm(y.numel(), generator=torch.Generator().manual_seed(1))]
    res = linear_probe(x, y_noise, tr, va, te, epochs=150)
    assert res.test_acc < 0.6


def _val_vs_test_case(val_prefers_decay: bool):
    """Two classes on two orthogonal directions e1, e2. Train: 3 x (e1, class 0), 1 x (e2,
    class 1). Without decay the probe separates them (e2 -> class 1); a huge decay leaves only
    the bias, i.e. the training majority, class 0, everywhere. Validation and test both hold
    e2, e2, e1 and disagree on the label of e2, so they prefer different decays."""
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    block = torch.stack([e2, e2, e1])
    x = torch.cat([torch.stack([e1, e1, e1, e2]), block, block])
    majority, separated = torch.tensor([0, 0, 0]), torch.tensor([1, 1, 0])
    val_y, test_y = (majority, separated) if val_prefers_decay else (separated, majority)
    y = torch.cat([torch.tensor([0, 0, 0, 1]), val_y, test_y])
    return x, y, torch.arange(4), torch.arange(4, 7), torch.arange(7, 10)


@pytest.mark.parametrize("val_prefers_decay", [True, False])
@pytest.mark.parametrize("grid", [(0.0, 100.0), (100.0, 0.0)])
def test_selection_is_on_validation_not_test(val_prefers_decay: bool, grid) -> None:
    x, y, tr, va, te = _val_vs_test_case(val_prefers_decay)
    res = linear_probe(x, y, tr, va, te, weight_decays=grid)
    assert res.weight_decay == (100.0 if val_prefers_decay else 0.0)
    assert res.val_acc == 1.0
    # the selected model is the one that does badly on test: test never influenced the choice
    assert res.test_acc == pytest.approx(1 / 3)
    assert res.train_acc == (0.75 if val_prefers_decay else 1.0)


def test_ties_go_to_the_smaller_decay_whatever_the_grid_order() -> None:
    x, y, tr, va, te = separable(2)
    for grid in [(1e-3, 0.0, 1e-4), (1e-4, 1e-3)]:
        res = linear_probe(x, y, tr, va, te, weight_decays=grid, epochs=100)
        assert res.val_acc == 1.0
        assert res.weight_decay == min(grid)  # reported exactly as given, not rounded


def test_masks_and_indices_give_the_same_result() -> None:
    x, y, tr, va, te = separable(3)
    x = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(3)) * 2  # not perfect
    n = y.numel()

    def mask(idx: torch.Tensor) -> torch.Tensor:
        m = torch.zeros(n, dtype=torch.bool)
        m[idx] = True
        return m

    # indices in sorted order, the order a mask implies
    by_index = linear_probe(x, y, tr.sort().values, va.sort().values, te.sort().values, epochs=80)
    by_mask = linear_probe(x, y, mask(tr), mask(va), mask(te), epochs=80)
    assert by_mask == by_index
    assert by_index.test_acc < 1.0  # the case is not trivially perfect


def test_no_test_index_gives_nan_test_acc() -> None:
    x, y, tr, va, _ = separable(4)
    res = linear_probe(x, y, tr, va, epochs=50)
    assert math.isnan(res.test_acc)
    assert res.val_acc == 1.0


def test_embeddings_are_not_changed_or_differentiated() -> None:
    x, y, tr, va, te = separable(5)
    emb = x.clone().requires_grad_()
    linear_probe(emb, y, tr, va, te, epochs=20)
    assert emb.grad is None
    assert torch.equal(emb.detach(), x)
