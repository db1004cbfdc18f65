"""K-means in torch and clustering metrics: ACC (Hungarian matching), NMI, ARI, macro-F1.

**K-means** (Lloyd) on ``X ∈ R^{N×d}`` with ``k`` clusters: k-means++ seeding (greedy, with
``2 + ⌊ln k⌋`` candidate centres per step, as scikit-learn), then alternate

    assign  c_i = argmin_j ‖x_i − μ_j‖²,       update  μ_j = mean{x_i : c_i = j}

until the squared centre shift falls below ``tol · mean_f var(X[:, f])`` or ``max_iter``; an empty
cluster is re-seeded at the point farthest from its centre. ``n_init`` restarts, keeping the one
with the lowest inertia ``Σ_i ‖x_i − μ_{c_i}‖²``. ``metric='inner_product'`` assigns by the largest
``x_i · μ_j`` instead (faiss' inner-product k-means; centres are still plain means).
All randomness comes from ``generator``. Memory O(N k) per restart; distances are one matmul.

**Metrics** between true labels ``y`` and cluster ids ``c`` (any integers), from the contingency
table ``n_{ij} = |{y = i, c = j}|`` with row sums ``a_i``, column sums ``b_j``, total n:

* ACC: the best one-to-one matching of clusters to classes (``scipy.optimize.
  linear_sum_assignment`` on ``−n_{ij}``, rectangular when the counts differ) divided by n;
  points in unmatched clusters count as wrong.
* macro-F1: after that matching, the mean over the **true classes** of per-class F1.
* NMI (arithmetic): ``MI / ((H(y) + H(c)) / 2)`` with natural logs; 1 when both are a single
  cluster (scikit-learn's convention).
* ARI: ``(Σ C(n_ij,2) − E) / (½(Σ C(a_i,2) + Σ C(b_j,2)) − E)`` with ``E = Σ C(a_i,2) Σ C(b_j,2) /
  C(n,2)``, computed from scikit-learn's pair-confusion form; 1 for identical partitions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from gcl.eval.classification import f1_per_class

Metric = Literal["euclidean", "inner_product"]


@dataclass(frozen=True)
class KMeansResult:
    """Outcome of :func:`kmeans`.

    Attributes:
        labels: [N] long cluster of every point.
        centroids: [k, d] cluster centres.
        inertia: the objective of the kept restart (sum of squared distances; for
            ``inner_product``, minus the sum of inner products).
        n_iter: Lloyd iterations of the kept restart.
    """

    labels: Tensor
    centroids: Tensor
    inertia: float
    n_iter: int


def _cost(x: Tensor, x_sq: Tensor, c: Tensor, metric: Metric) -> Tensor:
    """[N, k] assignment cost: squared distance or minus the inner product."""
    ip = x @ c.T
    if metric == "inner_product":
        return -ip
    return (x_sq.unsqueeze(1) - 2 * ip + c.square().sum(1).unsqueeze(0)).clamp_(min=0)


def _kmeans_pp(x: Tensor, x_sq: Tensor, k: int, generator: torch.Generator | None,
               n_trials: int) -> Tensor:
    """Greedy k-means++ seeding (squared Euclidean potential)."""
    n = x.size(0)
    dev = x.device
    gdev = generator.device if generator is not None else dev

    def draw(weights: Tensor, num: int) -> Tensor:
        total = weights.sum()
        if not bool(total > 0):  # every point coincides with a centre: uniform choice
            weights = torch.ones_like(weights)
        return torch.multinomial(weights.to(gdev), num, replacement=True, generator=generator).to(dev)

    first = torch.randint(n, (1,), generator=generator, device=gdev).to(dev)
    centers = [first]
    closest = _cost(x, x_sq, x[first], "euclidean").squeeze(1)        # [N]
    for _ in range(1, k):
        cand = draw(closest.double(), n_trials)                         # [T]
        d_cand = _cost(x, x_sq, x[cand], "euclidean").T                 # [T, N]
        pot = torch.minimum(d_cand, closest.unsqueeze(0))
        best = int(pot.sum(1).argmin())
        centers.append(cand[best:best + 1])
        closest = pot[best]
    return x[torch.cat(centers)].clone()


def _lloyd(x: Tensor, x_sq: Tensor, c: Tensor, metric: Metric, max_iter: int,
           tol: float) -> tuple[Tensor, Tensor, float, int]:
    n, k = x.size(0), c.size(0)
    ones = torch.ones(n, dtype=x.dtype, device=x.device)
    it = 0
    for it in range(1, max_iter + 1):
        cost = _cost(x, x_sq, c, metric)
        labels = cost.argmin(1)
        sums = torch.zeros_like(c).index_add_(0, labels, x)
        counts = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, labels, ones)
        empty = counts == 0
        new_c = sums / counts.clamp(min=1).unsqueeze(1)
        if bool(empty.any()):
            # Re-seed each empty cluster at one of the points farthest from their centres.
            own = cost.gather(1, labels.unsqueeze(1)).squeeze(1)
            far = own.topk(int(empty.sum())).indices
            new_c[empty] = x[far]
        shift = float((new_c - c).square().sum())
        c = new_c
        if shift <= tol:
            break
    cost = _cost(x, x_sq, c, metric)
    best = cost.min(1)
    return best.indices, c, float(best.values.double().sum()), it


def kmeans(
    x: Tensor,
    k: int,
    *,
    n_init: int = 10,
    max_iter: int = 300,
    tol: float = 1e-4,
    metric: Metric = "euclidean",
    init: str = "k-means++",
    generator: torch.Generator | None = None,
) -> KMeansResult:
    """K-means with k-means++ seeding and ``n_init`` restarts (see the module docstring).

    Args:
        x: [N, d] points (float; computed in the input's dtype and device).
        k: number of clusters, ``1 <= k <= N``.
        n_init: restarts; the lowest-inertia one is kept (set it explicitly: MEOW's protocol
            uses 10).
        max_iter: Lloyd iterations per restart.
        tol: relative tolerance on the centre shift (times the mean feature variance).
        metric: ``'euclidean'`` or ``'inner_product'`` assignment.
        init: ``'k-means++'`` seeding, or ``'random'``: k distinct points drawn uniformly
            (faiss's default, as MEOW's per-epoch clustering uses).
        generator: source of randomness (None = torch's global RNG).

    Returns:
        :class:`KMeansResult`.
    """
    if x.dim() != 2:
        raise ValueError(f"x must have shape [N, d], got {tuple(x.shape)}")
    n = x.size(0)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, N = {n}], got {k}")
    if n_init < 1 or max_iter < 1:
        raise ValueError(f"n_init and max_iter must be >= 1, got {n_init}, {max_iter}")
    if metric not in ("euclidean", "inner_product"):
        raise ValueError(f"metric must be 'euclidean' or 'inner_product', got {metric!r}")
    if init not in ("k-means++", "random"):
        raise ValueError(f"init must be 'k-means++' or 'random', got {init!r}")
    if not x.is_floating_point():
        x = x.float()
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x holds NaN or infinite values")
    x_sq = x.square().sum(1)
    abs_tol = tol * float(x.var(0, unbiased=False).mean()) if n > 1 else 0.0
    n_trials = 2 + int(math.log(k))
    best: KMeansResult | None = None
    for _ in range(n_init):
        if init == "random":
            gdev = generator.device if generator is not None else x.device
            c0 = x[torch.randperm(n, generator=generator, device=gdev)[:k].to(x.device)].clone()
        else:
            c0 = _kmeans_pp(x, x_sq, k, generator, n_trials)
        labels, c, inertia, it = _lloyd(x, x_sq, c0, metric, max_iter, abs_tol)
        if best is None or inertia < best.inertia:
            best = KMeansResult(labels, c, inertia, it)
    assert best is not None
    return best


# --------------------------------------------------------------------------- metrics


def contingency_matrix(y_true: Tensor, y_pred: Tensor) -> np.ndarray:
    """``n_{ij}`` [#classes, #clusters] int64 over the distinct values of each labelling
    (sorted order)."""
    yt = torch.as_tensor(y_true).reshape(-1).cpu()
    yp = torch.as_tensor(y_pred).reshape(-1).cpu()
    if yt.numel() != yp.numel():
        raise ValueError(f"y_true and y_pred must have the same length, got {yt.numel()} and {yp.numel()}")
    if yt.numel() == 0:
        raise ValueError("y_true and y_pred are empty")
    _, ti = torch.unique(yt, return_inverse=True)
    _, pi = torch.unique(yp, return_inverse=True)
    nt, np_ = int(ti.max()) + 1, int(pi.max()) + 1
    table = torch.bincount(ti * np_ + pi, minlength=nt * np_).view(nt, np_)
    return table.numpy().astype(np.int64)


def _match(y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(true_idx, matched_idx, classes)``: the class index (into the sorted distinct labels
    ``classes``) of every point and of its cluster's matched class (−1 if unmatched), on CPU."""
    yt = torch.as_tensor(y_true).reshape(-1).cpu()
    yp = torch.as_tensor(y_pred).reshape(-1).cpu()
    table = contingency_matrix(yt, yp)
    classes, true_idx = torch.unique(yt, return_inverse=True)
    clusters, cluster_idx = torch.unique(yp, return_inverse=True)
    rows, cols = linear_sum_assignment(-table)
    to_class = torch.full((clusters.numel(),), -1, dtype=torch.long)
    to_class[torch.as_tensor(cols, dtype=torch.long)] = torch.as_tensor(rows, dtype=torch.long)
    return true_idx, to_class[cluster_idx], classes


def hungarian_match(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Cluster ids mapped to class labels by the maximum-overlap one-to-one matching
    (``linear_sum_assignment`` on the contingency table).

    Returns:
        [N] long on ``y_pred``'s device: the matched class label of every point's cluster, or
        −1 where its cluster is not matched (more clusters than classes).
    """
    _, matched, classes = _match(y_true, y_pred)
    out = torch.where(matched >= 0, classes.long()[matched.clamp(min=0)], torch.full_like(matched, -1))
    return out.to(torch.as_tensor(y_pred).device)


def cluster_accuracy(y_true: Tensor, y_pred: Tensor) -> float:
    """Clustering ACC: the fraction of points whose cluster is matched to their label."""
    table = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / table.sum())


def cluster_macro_f1(y_true: Tensor, y_pred: Tensor) -> float:
    """Macro-F1 over the true classes after the Hungarian matching (points of unmatched
    clusters count as misses of their class)."""
    true_idx, matched, classes = _match(y_true, y_pred)
    return float(f1_per_class(true_idx, matched, classes.numel()).mean())


def _entropy(counts: np.ndarray) -> float:
    counts = counts[counts > 0].astype(np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(y_true: Tensor, y_pred: Tensor) -> float:
    """Normalised mutual information, arithmetic normalisation (scikit-learn's default)."""
    table = contingency_matrix(y_true, y_pred)
    if table.shape[0] == table.shape[1] == 1:
        return 1.0
    n = float(table.sum())
    a, b = table.sum(1).astype(np.float64), table.sum(0).astype(np.float64)
    i, j = np.nonzero(table)
    nij = table[i, j].astype(np.float64)
    mi = float((nij / n * (np.log(nij * n) - np.log(a[i] * b[j]))).sum())
    mi = max(mi, 0.0)
    h = (_entropy(table.sum(1)) + _entropy(table.sum(0))) / 2
    return mi / max(h, np.finfo(np.float64).eps)


def ari(y_true: Tensor, y_pred: Tensor) -> float:
    """Adjusted Rand index (scikit-learn's ``adjusted_rand_score``)."""
    table = contingency_matrix(y_true, y_pred).astype(np.float64)
    n = table.sum()
    sum_sq = (table ** 2).sum()
    a, b = table.sum(1), table.sum(0)
    # Pair confusion counts (ordered pairs): same cluster in both / only in y_pred / only in y_true.
    tp = sum_sq - n
    fp = float((table * b[None, :]).sum() - sum_sq)
    fn = float((table * a[:, None]).sum() - sum_sq)
    tn = n * n - fp - fn - sum_sq
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def clustering_scores(y_true: Tensor, y_pred: Tensor) -> dict[str, float]:
    """``{'acc', 'nmi', 'ari', 'f1'}`` of one clustering."""
    return {"acc": cluster_accuracy(y_true, y_pred), "nmi": nmi(y_true, y_pred),
            "ari": ari(y_true, y_pred), "f1": cluster_macro_f1(y_true, y_pred)}


def kmeans_clustering_eval(
    embeddings: Tensor,
    y: Tensor,
    n_clusters: int | None = None,
    *,
    runs: int = 10,
    n_init: int = 10,
    generator: torch.Generator | None = None,
    **kwargs: object,
) -> dict[str, float]:
    """The embedding-clustering protocol (HeCo / MEOW): K-means with k = #classes on the raw
    embeddings, repeated ``runs`` times; mean and population std of every metric.

    Args:
        embeddings: [N, d]; y: [N] labels.
        n_clusters: k (default: the number of distinct labels).
        runs: repetitions (10); n_init: restarts inside each (10).
        generator: source of randomness for all runs.
        **kwargs: passed to :func:`kmeans` (``max_iter``, ``tol``, ``metric``).

    Returns:
        ``{'acc', 'acc_std', 'nmi', 'nmi_std', 'ari', 'ari_std', 'f1', 'f1_std'}``.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    k = int(torch.unique(torch.as_tensor(y)).numel()) if n_clusters is None else int(n_clusters)
    x = embeddings.detach()
    scores = [clustering_scores(y, kmeans(x, k, n_init=n_init, generator=generator, **kwargs).labels)
              for _ in range(runs)]
    out: dict[str, float] = {}
    for key in ("acc", "nmi", "ari", "f1"):
        vals = np.array([s[key] for s in scores])
        out[key], out[f"{key}_std"] = float(vals.mean()), float(vals.std())
    return out
