"""gcl.eval.ranking: hand-computed full-ranking and single-target metrics, index masking, a naive
dense-sort reference over random data and batch sizes, and the per-batch-mean variant."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.eval.ranking import (
    full_ranking,
    mask_items,
    metrics_from_hits,
    rank_by_embeddings,
    single_target_metrics,
    single_target_ranks,
    topk_hits,
)

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")



def csr(rows: list[list[int]], n_items: int) -> torch.Tensor:
    dense = torch.zeros(len(rows), n_items)
    for u, items in enumerate(rows):
        dense[u, items] = 1
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return dense.to_sparse_csr()


L3, L6 = 1 / math.log2(3), 1 / math.log2(6)
SCORES = torch.tensor([[9.0, 1, 8, 7, 3, 2], [0, 0, 0, 0, 0, 0], [1.0, 2, 3, 4, 5, 6]])
TRAIN = csr([[0], [1, 2], []], 6)
TEST = csr([[1, 3], [], [5]], 6)


def test_full_ranking_hand_computed() -> None:
    out = full_ranking(lambda u: SCORES[u].clone(), TEST, exclude=TRAIN, ks=(2, 5))
    # user 0: ranking 2, 3, 4, 5, 1 (item 0 masked) -> hits at ranks 1 and 4; user 1 skipped;
    # user 2: ranking 5, 4, ... -> hit at rank 0.
    expected = {
        "recall@2": (0.5 + 1) / 2, "precision@2": (0.5 + 0.5) / 2, "hr@2": 1.0, "mrr@2": (0.5 + 1) / 2,
        "ndcg@2": (L3 / (1 + L3) + 1) / 2,
        "recall@5": 1.0, "precision@5": (2 / 5 + 1 / 5) / 2, "hr@5": 1.0, "mrr@5": (0.5 + 1) / 2,
        "ndcg@5": ((L3 + L6) / (1 + L3) + 1) / 2,
        "n_users": 2.0,
    }
    assert set(out) == set(expected)
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, abs=1e-12), key


def test_mask_items_by_index_and_pairs() -> None:
    s = SCORES[[1, 0]].clone()
    mask_items(s, torch.tensor([1, 0]), TRAIN)  # batch rows are users 1 and 0
    assert torch.isinf(s[0, [1, 2]]).all() and torch.isinf(s[1, 0])
    assert torch.isfinite(s[0, [0, 3, 4, 5]]).all() and torch.isfinite(s[1, 1:]).all()
    s2 = SCORES[[1, 0]].clone()
    mask_items(s2, torch.tensor([1, 0]), (TRAIN.crow_indices(), TRAIN.col_indices()),
               csr([[4], [5], []], 6))
    assert torch.isinf(s2[0, [1, 2, 5]]).all() and torch.isinf(s2[1, [0, 4]]).all()
    assert int(torch.isinf(s2).sum()) == 5


def test_ndcg_ideal_uses_min_k_and_test_size() -> None:
    hits = torch.tensor([[True, False, False], [False, True, True]])
    n_true = torch.tensor([1, 5])
    out = metrics_from_hits(hits, n_true, ks=[3], metrics=["ndcg", "recall"])
    assert float(out["ndcg@3"][0]) == pytest.approx(1.0)
    ideal = 1 + L3 + 0.5
    assert float(out["ndcg@3"][1]) == pytest.approx((L3 + 0.5) / ideal)
    assert float(out["recall@3"][1]) == pytest.approx(2 / 5)


def reference(scores: np.ndarray, train: list[set[int]], test: list[set[int]], k: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {m: [] for m in ("recall", "ndcg", "precision", "hr", "mrr")}
    for u in range(scores.shape[0]):
        if not test[u]:
            continue
        s = scores[u].copy()
        s[list(train[u])] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        hits = [int(i in test[u]) for i in order]
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(test[u]))))
        res["recall"].append(sum(hits) / len(test[u]))
        res["precision"].append(sum(hits) / k)
        res["ndcg"].append(dcg / idcg)
        res["hr"].append(float(any(hits)))
        res["mrr"].append(next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0))
    return res


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 7))
def test_equals_dense_reference(seed: int, batch_size: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items, d = 11, 15, 4
    ue, ie = torch.tensor(rng.standard_normal((n_users, d))), torch.tensor(rng.standard_normal((n_items, d)))
    inter = rng.random((n_users, n_items))
    train = [set(np.nonzero(inter[u] < 0.2)[0].tolist()) for u in range(n_users)]
    test = [set(np.nonzero((inter[u] >= 0.2) & (inter[u] < 0.35))[0].tolist()) for u in range(n_users)]
    tr, te = csr([sorted(t) for t in train], n_items), csr([sorted(t) for t in test], n_items)
    out = rank_by_embeddings(ue, ie, te, exclude=[tr], ks=(3, 10), batch_size=batch_size)
    scores = (ue @ ie.T).numpy()
    for k in (3, 10):
        ref = reference(scores, train, test, k)
        for m, vals in ref.items():
            assert out[f"{m}@{k}"] == pytest.approx(float(np.mean(vals)), abs=1e-10), (m, k)
    assert out["n_users"] == sum(1 for t in test if t)
    # the per-batch-mean variant
    users = [u for u in range(n_users) if test[u]]
    ref20 = reference(scores, train, test, 3)["recall"]
    chunks = [ref20[i:i + batch_size] for i in range(0, len(users), batch_size)]
    batch = rank_by_embeddings(ue, ie, te, exclude=tr, ks=(3,), batch_size=batch_size, average="batch")
    assert batch["recall@3"] == pytest.approx(float(np.mean([np.mean(c) for c in chunks])), abs=1e-10)


def test_users_argument_and_topk_hits() -> None:
    out = full_ranking(lambda u: SCORES[u].clone(), TEST, exclude=TRAIN, ks=(1,), users=torch.tensor([2, 1]))
    assert out["n_users"] == 1 and out["recall@1"] == 1.0   # user 1 has no test item: skipped
    hits, n_true = topk_hits(SCORES[[0, 2]].clone(), torch.tensor([0, 2]), TEST, 2)
    assert hits.tolist() == [[False, False], [True, False]] and n_true.tolist() == [2, 1]


def test_full_ranking_errors() -> None:
    with pytest.raises(ValueError, match="average"):
        full_ranking(lambda u: SCORES[u].clone(), TEST, average="micro")
    with pytest.raises(ValueError, match="unknown metric"):
        full_ranking(lambda u: SCORES[u].clone(), TEST, metrics=("auc",))
    with pytest.raises(ValueError, match="truth must be"):
        full_ranking(lambda u: SCORES[u].clone(), TEST.to_dense())
    with pytest.raises(ValueError, match="one row per user"):
        topk_hits(SCORES.clone(), torch.tensor([0]), TEST, 2)
    with pytest.raises(ValueError, match="score_fn returned"):
        full_ranking(lambda u: SCORES[:1].clone(), TEST)


# ----------------------------------------------------------------------------- single target


def test_single_target_hand_computed() -> None:
    scores = torch.tensor([[1.0, 0.9, 0.3, 0.7, 0.7], [0.0, 0.1, 0.2, 0.3, 0.4]])
    targets = torch.tensor([3, 4])
    # row 0: item 0 is padding (ignored although it scores highest); item 1 above; item 4 tied
    assert single_target_ranks(scores, targets).tolist() == [3, 1]
    assert single_target_ranks(scores, targets, ties="optimistic").tolist() == [2, 1]
    hist = torch.tensor([[0, 1, 3], [0, 0, 0]])          # item 3 is the target: never excluded
    assert single_target_ranks(scores, targets, history=hist).tolist() == [2, 1]
    assert single_target_ranks(scores, targets, padding_idx=None).tolist() == [4, 1]
    m = single_target_metrics(torch.tensor([3, 1]), ks=(2, 5))
    assert m["hr@2"] == 0.5 and m["hr@5"] == 1.0
    assert m["ndcg@2"] == pytest.approx(0.5) and m["ndcg@5"] == pytest.approx((1 / math.log2(4) + 1) / 2)
    assert m["mrr@2"] == pytest.approx(0.5) and m["mrr@5"] == pytest.approx((1 / 3 + 1) / 2)
    assert scores[0, 0] == 1.0  # input untouched


def test_single_target_constant_scores_are_pessimistic() -> None:
    scores = torch.zeros(4, 10)
    ranks = single_target_ranks(scores, torch.tensor([1, 2, 3, 9]))
    assert ranks.tolist() == [9, 9, 9, 9]   # 10 items minus padding
    assert single_target_metrics(ranks, ks=(5,))["hr@5"] == 0.0


def test_single_target_errors() -> None:
    with pytest.raises(ValueError, match="ties"):
        single_target_ranks(torch.zeros(1, 3), torch.tensor([1]), ties="average")
    with pytest.raises(ValueError, match="targets must be"):
        single_target_ranks(torch.zeros(1, 3), torch.tensor([3]))
    with pytest.raises(ValueError, match="history"):
        single_target_ranks(torch.zeros(2, 3), torch.tensor([1, 1]), history=torch.zeros(1, 2))
    with pytest.raises(ValueError, match="unknown metric"):
        single_target_metrics(torch.tensor([1]), metrics=("recall",))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device: str) -> None:
    ue, ie = torch.randn(3, 4, device=device), torch.randn(6, 4, device=device)
    out = rank_by_embeddings(ue, ie, TEST, exclude=TRAIN, ks=(2,))
    cpu = rank_by_embeddings(ue.cpu(), ie.cpu(), TEST, exclude=TRAIN, ks=(2,))
    assert out == pytest.approx(cpu)
    ranks = single_target_ranks(SCORES.to(device), torch.tensor([1, 2, 3], device=device),
                                history=torch.tensor([[2], [0], [1]], device=device))
    assert ranks.device.type == device


def test_exclude_accepts_tuple_of_matrices_and_pairs() -> None:
    valid = csr([[2], [], [4]], 6)
    fn = lambda u: SCORES[u].clone()  # noqa: E731
    as_tuple = full_ranking(fn, TEST, exclude=(TRAIN, valid), ks=(2,))
    as_list = full_ranking(fn, TEST, exclude=[TRAIN, valid], ks=(2,))
    assert as_tuple == as_list
    pair = full_ranking(fn, TEST, exclude=(TRAIN.crow_indices(), TRAIN.col_indices()), ks=(2,))
    assert pair == full_ranking(fn, TEST, exclude=TRAIN, ks=(2,))
    # user 0 with items 0 and 2 excluded: ranking 3, 4 -> hit at rank 0
    assert as_list["mrr@2"] == pytest.approx((1 + 1) / 2)
