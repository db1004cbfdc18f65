"""gcl.eval.ogb_eval and gcl.eval.link: the OGB wrapper on real molbace labels and on synthetic
multi-task labels with NaN (torch twin equals OGB), node/link inputs, and link AUC/AP against
scikit-learn."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from gcl.eval.link import dot_product_scores, link_prediction_eval, link_scores
from gcl.eval.ogb_eval import multitask_score, ogb_evaluate, ogb_metric


def multitask_labels(n: int, t: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, t, generator=g) < 0.3).double()
    y[torch.rand(n, t, generator=g) < 0.2] = float("nan")
    y[:, 1] = torch.where(torch.isnan(y[:, 1]), y[:, 1], torch.zeros_like(y[:, 1]))  # one class only
    return y, torch.randn(n, t, generator=g)


def test_molbace_real_labels(bundled_root: Path) -> None:
    import gcl.data as gdata

    ds = gdata.load("ogbg-molbace", root=bundled_root)
    y = ds.y[:200].view(-1).float()
    pred = y + torch.randn(200, generator=torch.Generator().manual_seed(0))  # informative scores
    out = ogb_evaluate("ogbg-molbace", y, pred)
    assert set(out) == {"rocauc"} and 0.6 < out["rocauc"] < 1.0
    assert out["rocauc"] == pytest.approx(roc_auc_score(y.numpy(), pred.numpy()), abs=1e-12)
    assert multitask_score(y, pred) == pytest.approx(out["rocauc"], abs=1e-12)
    assert ogb_metric("ogbg-molbace") == "rocauc"


def test_multitask_rocauc_and_ap_equal_ogb() -> None:
    y, p = multitask_labels(80, 12, 1)
    assert multitask_score(y, p) == pytest.approx(ogb_evaluate("ogbg-moltox21", y, p)["rocauc"], abs=1e-12)
    y2, p2 = multitask_labels(60, 128, 2)
    ref = ogb_evaluate("ogbg-molpcba", y2, p2)["ap"]
    assert multitask_score(y2, p2, "ap") == pytest.approx(ref, abs=1e-12)
    with pytest.raises(ValueError, match="both a positive and a negative"):
        multitask_score(torch.zeros(5, 2), torch.randn(5, 2))
    with pytest.raises(ValueError, match="metric"):
        multitask_score(y, p, "f1")
    with pytest.raises(ValueError, match="same"):
        multitask_score(y, p[:, :3])


def test_node_and_link_inputs() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 40, (30,), generator=g)
    logits = torch.randn(30, 40, generator=g)
    logits[torch.arange(20), y[:20]] += 100  # 20 of 30 right
    logits[torch.arange(20, 30), y[20:]] -= 100
    assert ogb_evaluate("ogbn-arxiv", y, logits)["acc"] == pytest.approx(20 / 30)
    out = ogb_evaluate("ogbl-collab", y_pred_pos=torch.tensor([5.0, 0.5]), y_pred_neg=torch.linspace(0, 1, 100))
    assert out["hits@50"] == pytest.approx(0.5)
    with pytest.raises(RuntimeError):
        ogb_evaluate("ogbg-moltox21", torch.zeros(4, 3), torch.zeros(4, 3))  # 3 tasks instead of 12


def test_link_scores_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 50), rng.integers(-2, 2, 70).astype(float)  # ties among negatives
    out = link_scores(torch.tensor(pos), torch.tensor(neg))
    y = np.r_[np.ones(50), np.zeros(70)]
    s = np.r_[pos, neg]
    assert out["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert out["ap"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert link_scores(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == {"auc": 1.0, "ap": 1.0}
    with pytest.raises(ValueError, match="at least one"):
        link_scores(torch.tensor([]), torch.tensor([1.0]))


def test_link_prediction_eval_on_embeddings() -> None:
    z = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    pos = torch.tensor([[0, 2], [1, 3]])          # edges (0,1) and (2,3)
    neg = torch.tensor([[0, 1], [3, 2]])          # non-edges (0,3) and (1,2)
    torch.testing.assert_close(dot_product_scores(z, pos), torch.tensor([1.0, 0.0]))
    out = link_prediction_eval(z, pos, neg)
    # positives 1.0, 0.0; negatives -1.0, 0.1 -> pairs won: (1>-1), (1>.1), (0>-1) -> 3/4
    assert out["auc"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="edge_index"):
        dot_product_scores(z, torch.tensor([0, 1]))
