"""gcl.eval.clustering: k-means against scikit-learn's inertia, seeding reproducibility, empty
clusters; ACC / NMI / ARI / macro-F1 by hand, by brute force and against scikit-learn."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score

from gcl.eval.clustering import (
    ari,
    cluster_accuracy,
    cluster_macro_f1,
    clustering_scores,
    contingency_matrix,
    hungarian_match,
    kmeans,
    kmeans_clustering_eval,
    nmi,
)



def blobs(n_per: int, k: int, d: int, spread: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * 5
    y = torch.arange(k).repeat_interleave(n_per)
    return centers[y] + spread * torch.randn(k * n_per, d, generator=g), y


# ----------------------------------------------------------------------------- k-means


def test_kmeans_recovers_separated_blobs_and_is_seeded() -> None:
    x, y = blobs(30, 4, 3, 0.3, 0)
    res = kmeans(x, 4, n_init=3, generator=torch.Generator().manual_seed(0))
    assert res.labels.shape == (120,) and res.centroids.shape == (4, 3)
    assert cluster_accuracy(y, res.labels) == 1.0
    # inertia is the sum of squared distances to the assigned centres
    assert abs(res.inertia - float((x - res.centroids[res.labels]).square().sum())) < 1e-3
    again = kmeans(x, 4, n_init=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(res.labels, again.labels) and torch.equal(res.centroids, again.centroids)


def test_kmeans_inertia_matches_sklearn() -> None:
    x, _ = blobs(40, 6, 5, 2.5, 1)  # overlapping: a real optimisation problem
    ours = kmeans(x.double(), 6, n_init=10, generator=torch.Generator().manual_seed(0))
    ref = KMeans(6, n_init=10, random_state=0).fit(x.double().numpy())
    assert ours.inertia <= ref.inertia_ * 1.01
    # Lloyd fixed point: every centre is the mean of its points, every point at its nearest centre
    d = torch.cdist(x.double(), ours.centroids)
    assert torch.equal(d.argmin(1), ours.labels)


def test_kmeans_more_restarts_never_worse() -> None:
    x, _ = blobs(25, 5, 4, 3.0, 2)
    one = kmeans(x, 5, n_init=1, generator=torch.Generator().manual_seed(3))
    many = kmeans(x, 5, n_init=8, generator=torch.Generator().manual_seed(3))
    assert many.inertia <= one.inertia + 1e-6  # the first restart of both is the same draw


def test_kmeans_duplicates_and_empty_clusters_stay_finite() -> None:
    x = torch.tensor([[0.0, 0.0]] * 6 + [[1.0, 1.0]] * 4)
    res = kmeans(x, 3, n_init=2, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(res.centroids).all() and res.inertia == 0.0
    assert set(res.labels.tolist()) <= {0, 1, 2}
    single = kmeans(x, 1, n_init=1)
    torch.testing.assert_close(single.centroids, x.mean(0, keepdim=True))


def test_kmeans_inner_product_assignment() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(60, 4, generator=g), dim=1)
    res = kmeans(x, 3, n_init=2, metric="inner_product", generator=g)
    assert torch.equal((x @ res.centroids.T).argmax(1), res.labels)
    assert abs(res.inertia + float((x * res.centroids[res.labels]).sum())) < 1e-4


def test_kmeans_errors() -> None:
    x = torch.randn(5, 2)
    with pytest.raises(ValueError, match="k must be"):
        kmeans(x, 6)
    with pytest.raises(ValueError, match="metric"):
        kmeans(x, 2, metric="cosine")
    with pytest.raises(ValueError, match="NaN"):
        kmeans(torch.tensor([[float("nan"), 0.0], [1.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="shape"):
        kmeans(torch.randn(5), 2)


# ----------------------------------------------------------------------------- metrics


def test_metrics_hand_computed() -> None:
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    c = torch.tensor([1, 1, 0, 0, 0, 2])
    # clusters 1->0 (2 points), 0->1 (2), 2->2 (1): 5 of 6
    assert cluster_accuracy(y, c) == pytest.approx(5 / 6)
    assert hungarian_match(y, c).tolist() == [0, 0, 1, 1, 1, 2]
    # per class F1: 1, 2*2/(4+1) = 0.8, 2*1/(2+1) = 2/3
    assert cluster_macro_f1(y, c) == pytest.approx((1 + 0.8 + 2 / 3) / 3)
    assert clustering_scores(y, y + 10) == {"acc": 1.0, "nmi": 1.0, "ari": 1.0, "f1": 1.0}
    assert contingency_matrix(y, c).tolist() == [[0, 2, 0], [2, 0, 0], [1, 0, 1]]


def test_rectangular_matching() -> None:
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    more = torch.tensor([0, 0, 5, 1, 1, 7])   # 4 clusters, 2 classes: two clusters unmatched
    assert cluster_accuracy(y, more) == pytest.approx(4 / 6)
    assert hungarian_match(y, more).tolist() == [0, 0, -1, 1, 1, -1]
    assert cluster_macro_f1(y, more) == pytest.approx(f1_score(y, [0, 0, -1, 1, 1, -1], labels=[0, 1], average="macro"))
    fewer = torch.zeros(6, dtype=torch.long)  # one cluster, two classes
    assert cluster_accuracy(y, fewer) == pytest.approx(0.5)
    assert cluster_macro_f1(y, fewer) == pytest.approx((2 * 3 / (6 + 3) + 0) / 2)


def brute_force_acc(y: np.ndarray, c: np.ndarray) -> float:
    classes, clusters = np.unique(y), np.unique(c)
    best = 0
    m = max(len(classes), len(clusters))
    for perm in itertools.permutations(range(m), len(clusters)):
        hits = sum(((c == cl) & (y == classes[p])).sum() for cl, p in zip(clusters, perm) if p < len(classes))
        best = max(best, hits)
    return best / len(y)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(1, 4), st.integers(2, 40))
def test_metrics_equal_sklearn_and_brute_force(seed: int, kt: int, kp: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, kt, n)
    c = rng.integers(0, kp, n) * 3 - 2   # arbitrary cluster ids
    yt, ct = torch.tensor(y), torch.tensor(c)
    assert nmi(yt, ct) == pytest.approx(normalized_mutual_info_score(y, c), abs=1e-10)
    assert ari(yt, ct) == pytest.approx(adjusted_rand_score(y, c), abs=1e-10)
    assert cluster_accuracy(yt, ct) == pytest.approx(brute_force_acc(y, c))
    mapped = hungarian_match(yt, ct).numpy()
    assert (mapped == y).mean() == pytest.approx(cluster_accuracy(yt, ct))
    ref_f1 = f1_score(y, mapped, labels=np.unique(y), average="macro", zero_division=0)
    assert cluster_macro_f1(yt, ct) == pytest.approx(ref_f1, abs=1e-12)


def test_protocol_wrapper_and_errors() -> None:
    x, y = blobs(20, 3, 4, 0.5, 4)
    out = kmeans_clustering_eval(x, y, runs=3, n_init=2, generator=torch.Generator().manual_seed(0))
    assert set(out) == {"acc", "acc_std", "nmi", "nmi_std", "ari", "ari_std", "f1", "f1_std"}
    assert out["acc"] == 1.0 and out["nmi"] == pytest.approx(1.0) and out["acc_std"] == 0.0
    with pytest.raises(ValueError, match="same length"):
        nmi(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        ari(torch.zeros(0), torch.zeros(0))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_kmeans_on_device(device: str) -> None:
    x, y = blobs(20, 3, 4, 0.3, 5)
    res = kmeans(x.to(device), 3, n_init=2, generator=torch.Generator().manual_seed(0))
    assert res.labels.device.type == device and cluster_accuracy(y, res.labels) == 1.0
