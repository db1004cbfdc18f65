"""gcl.eval.classification: hand-computed F1 / AUC / AP, and agreement with scikit-learn on random
inputs with ties, batched."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from gcl.eval.classification import (
    average_precision,
    average_ranks,
    f1_per_class,
    macro_f1,
    micro_f1,
    multiclass_roc_auc,
    roc_auc,
)


def test_f1_hand_computed() -> None:
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    p = torch.tensor([0, 1, 1, 1, 2, 0])
    # class 0: TP 1, FP 1, FN 1 -> 1/2; class 1: TP 2, FP 1 -> 4/5; class 2: TP 1, FN 1 -> 2/3
    torch.testing.assert_close(f1_per_class(y, p, 3), torch.tensor([0.5, 0.8, 2 / 3], dtype=torch.float64))
    assert abs(float(macro_f1(y, p)) - (0.5 + 0.8 + 2 / 3) / 3) < 1e-12
    assert abs(float(micro_f1(y, p)) - 4 / 6) < 1e-12
    # a class in neither labels nor predictions is not averaged; one only predicted scores 0
    assert abs(float(macro_f1(y, p, num_classes=5)) - (0.5 + 0.8 + 2 / 3) / 3) < 1e-12
    p2 = torch.tensor([0, 0, 1, 1, 3, 3])
    assert abs(float(macro_f1(y, p2)) - (1 + 1 + 0 + 0) / 4) < 1e-12
    assert abs(float(macro_f1(y, p2, labels=[0, 1, 2])) - 2 / 3) < 1e-12


def test_auc_ap_hand_computed() -> None:
    s = torch.tensor([0.1, 0.4, 0.35, 0.8])
    y = torch.tensor([0, 0, 1, 1])
    assert abs(float(roc_auc(s, y)) - 0.75) < 1e-12
    assert abs(float(average_precision(s, y)) - (1 + 2 / 3) / 2) < 1e-12
    # ties: the tied positive/negative pair counts 1/2
    assert abs(float(roc_auc(torch.tensor([0.5, 0.5, 0.5, 0.9]), torch.tensor([0, 1, 0, 1]))) - 0.75) < 1e-12
    # ties in AP: all tied -> precision of the whole run = P / n
    assert abs(float(average_precision(torch.ones(4), torch.tensor([1, 0, 0, 1]))) - 0.5) < 1e-12
    assert torch.isnan(roc_auc(s, torch.zeros(4))) and torch.isnan(average_precision(s, torch.zeros(4)))
    torch.testing.assert_close(average_ranks(torch.tensor([3.0, 1.0, 3.0, 2.0])),
                               torch.tensor([3.5, 1.0, 3.5, 2.0], dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.integers(0, 10_000), st.booleans())
def test_binary_metrics_equal_sklearn(n: int, seed: int, coarse: bool) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1
    s = rng.integers(0, 4, n).astype(float) if coarse else rng.standard_normal(n)  # ties when coarse
    st_, yt = torch.tensor(s), torch.tensor(y)
    assert abs(float(roc_auc(st_, yt)) - roc_auc_score(y, s)) < 1e-10
    assert abs(float(average_precision(st_, yt)) - average_precision_score(y, s)) < 1e-10
    np.testing.assert_allclose(average_ranks(st_).numpy(), rankdata(s))


def test_batched_binary_metrics() -> None:
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, (3, 4, 25)).astype(float)
    y = rng.integers(0, 2, (3, 4, 25))
    auc = roc_auc(torch.tensor(s), torch.tensor(y))
    ap = average_precision(torch.tensor(s), torch.tensor(y))
    assert auc.shape == (3, 4) and ap.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert abs(float(auc[i, j]) - roc_auc_score(y[i, j], s[i, j])) < 1e-10
            assert abs(float(ap[i, j]) - average_precision_score(y[i, j], s[i, j])) < 1e-10


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5))
def test_multiclass_equal_sklearn(seed: int, c: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    y = np.concatenate([np.arange(c), rng.integers(0, c, n - c)])
    p = rng.integers(0, c, n)
    logits = rng.standard_normal((n, c))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    yt, pt = torch.tensor(y), torch.tensor(p)
    assert abs(float(macro_f1(yt, pt)) - f1_score(y, p, average="macro")) < 1e-12
    assert abs(float(micro_f1(yt, pt)) - f1_score(y, p, average="micro")) < 1e-12
    ours = float(multiclass_roc_auc(torch.tensor(probs), yt))
    ref = roc_auc_score(y, probs, multi_class="ovr") if c > 2 else roc_auc_score(y, probs[:, 1])
    assert abs(ours - ref) < 1e-10


def test_batched_f1_and_errors() -> None:
    y = torch.tensor([[0, 1, 2, 2], [0, 0, 1, 1]])
    p = torch.tensor([[0, 1, 2, 1], [1, 0, 1, 1]])
    out = macro_f1(y, p, 3)
    for r in range(2):
        assert abs(float(out[r]) - f1_score(y[r].numpy(), p[r].numpy(), average="macro")) < 1e-12
    with pytest.raises(ValueError, match="same shape"):
        micro_f1(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="probs must have shape"):
        multiclass_roc_auc(torch.rand(4, 3), torch.zeros(5, dtype=torch.long))
