"""Classification metrics in torch: macro/micro F1, ROC-AUC (binary and one-vs-rest), average
precision. They agree with scikit-learn's ``f1_score``, ``roc_auc_score`` and
``average_precision_score`` (which the library does not need) and are batched over leading
dimensions, so many models (e.g. the 50 runs of a probe) are scored in one call.

Definitions (n samples, classes ``0 .. C − 1``):

* per-class ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)``; **macro-F1** is the mean of ``F1_c`` over
  the classes that occur in the labels or the predictions (scikit-learn's default label set),
  or over ``labels`` when given; **micro-F1** is ``Σ_c TP_c / n`` (= accuracy) for single-label
  data.
* **ROC-AUC** (Mann–Whitney): ``(Σ_{i: y_i = 1} rank_i − P(P + 1)/2) / (P N)`` with tie-averaged
  ranks of the scores, P positives and N negatives; NaN when P = 0 or N = 0.
* **one-vs-rest macro AUC**: the mean over classes c of ROC-AUC(scores[:, c], y == c).
* **average precision**: ``AP = Σ_k (R_k − R_{k−1}) P_k`` over the distinct score thresholds in
  decreasing order (no interpolation), i.e. ``(1/P) Σ_{i: y_i = 1} precision at the threshold
  s_i``; NaN when P = 0.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def _check_pair(a: Tensor, b: Tensor, names: tuple[str, str]) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def confusion_counts(y_true: Tensor, y_pred: Tensor, num_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Per-class true positives, false positives and false negatives.

    Args:
        y_true: [..., n] integer labels in ``0 .. num_classes − 1``.
        y_pred: [..., n] integer predictions (values outside the range count as wrong).
        num_classes: C.

    Returns:
        ``(tp, fp, fn)``, each [..., C] float64.
    """
    _check_pair(y_true, y_pred, ("y_true", "y_pred"))
    classes = torch.arange(num_classes, device=y_true.device)
    t = y_true.unsqueeze(-1) == classes                     # [..., n, C]
    p = y_pred.unsqueeze(-1) == classes
    tp = (t & p).sum(-2).double()
    return tp, p.sum(-2).double() - tp, t.sum(-2).double() - tp


def f1_per_class(y_true: Tensor, y_pred: Tensor, num_classes: int) -> Tensor:
    """[..., C] ``2TP / (2TP + FP + FN)`` per class (0 where the class is absent from both)."""
    tp, fp, fn = confusion_counts(y_true, y_pred, num_classes)
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))


def macro_f1(y_true: Tensor, y_pred: Tensor, num_classes: int | None = None,
             labels: Sequence[int] | Tensor | None = None) -> Tensor:
    """Macro-averaged F1 (scikit-learn ``f1_score(average='macro')``).

    Args:
        y_true, y_pred: [..., n] non-negative integer labels / predictions.
        num_classes: C (default ``max(y_true, y_pred) + 1``).
        labels: average over these classes only (scikit-learn's ``labels=``); by default over
            the classes present in ``y_true`` or ``y_pred`` of each batch entry.

    Returns:
        [...] float64.
    """
    if num_classes is None:
        num_classes = int(torch.maximum(y_true.max(), y_pred.max())) + 1 if y_true.numel() else 1
    tp, fp, fn = confusion_counts(y_true, y_pred, num_classes)
    denom = 2 * tp + fp + fn
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))
    if labels is not None:
        idx = torch.as_tensor(labels, device=f1.device, dtype=torch.long)
        return f1.index_select(-1, idx).mean(-1)
    present = (denom > 0).double()
    return (f1 * present).sum(-1) / present.sum(-1).clamp(min=1)


def micro_f1(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Micro-averaged F1 of single-label predictions, i.e. accuracy. [..., n] -> [...] float64."""
    _check_pair(y_true, y_pred, ("y_true", "y_pred"))
    return (y_true == y_pred).double().mean(-1)


def average_ranks(x: Tensor) -> Tensor:
    """1-based ranks along the last dimension, ties sharing their average rank
    (``scipy.stats.rankdata(method='average')``). [..., n] -> [..., n] float64."""
    shape = x.shape
    n = shape[-1]
    flat = x.reshape(-1, n)
    m = flat.size(0)
    if n == 0 or m == 0:
        return torch.zeros(shape, dtype=torch.float64, device=x.device)
    sorted_x, order = flat.sort(dim=-1)
    new = torch.ones_like(sorted_x, dtype=torch.bool)
    new[:, 1:] = sorted_x[:, 1:] != sorted_x[:, :-1]
    gid = new.reshape(-1).cumsum(0) - 1                       # run id, rows never share a run
    pos = torch.arange(n, device=x.device, dtype=torch.float64).repeat(m)
    g = int(gid[-1]) + 1
    first = torch.full((g,), float(n), dtype=torch.float64, device=x.device)
    first = first.scatter_reduce(0, gid, pos, reduce="amin")
    count = torch.zeros(g, dtype=torch.float64, device=x.device).index_add_(0, gid, torch.ones_like(pos))
    ranks_sorted = (first + (count + 1) / 2).index_select(0, gid).view(m, n)
    ranks = torch.empty_like(ranks_sorted).scatter_(1, order, ranks_sorted)
    return ranks.view(shape)


def roc_auc(scores: Tensor, labels: Tensor) -> Tensor:
    """Binary ROC-AUC (scikit-learn ``roc_auc_score``), batched over leading dimensions.

    Args:
        scores: [..., n] real scores (higher = more positive).
        labels: [..., n] bool or {0, 1}.

    Returns:
        [...] float64; NaN where a row has no positive or no negative.
    """
    _check_pair(scores, labels, ("scores", "labels"))
    pos = labels.bool()
    ranks = average_ranks(scores)
    n_pos = pos.sum(-1).double()
    n_neg = pos.size(-1) - n_pos
    u = (ranks * pos).sum(-1) - n_pos * (n_pos + 1) / 2
    auc = u / (n_pos * n_neg)
    return torch.where((n_pos > 0) & (n_neg > 0), auc, torch.full_like(auc, float("nan")))


def average_precision(scores: Tensor, labels: Tensor) -> Tensor:
    """Average precision (scikit-learn ``average_precision_score``), batched over leading dims.

    Args:
        scores: [..., n] real scores.
        labels: [..., n] bool or {0, 1}.

    Returns:
        [...] float64; NaN where a row has no positive.
    """
    _check_pair(scores, labels, ("scores", "labels"))
    shape, n = scores.shape[:-1], scores.shape[-1]
    s = scores.reshape(-1, n)
    y = labels.reshape(-1, n).bool()
    m = s.size(0)
    if n == 0 or m == 0:
        return torch.full(shape, float("nan"), dtype=torch.float64, device=scores.device)
    s_sorted, order = s.sort(dim=-1, descending=True)
    y_sorted = y.gather(1, order).double()
    tp = y_sorted.cumsum(1)
    # The end of every run of equal scores: precision is read there for the whole run.
    last = torch.ones_like(s_sorted, dtype=torch.bool)
    last[:, :-1] = s_sorted[:, 1:] != s_sorted[:, :-1]
    new = torch.ones_like(last)
    new[:, 1:] = last[:, :-1]
    gid = new.reshape(-1).cumsum(0) - 1
    pos = torch.arange(n, device=s.device).repeat(m)
    g = int(gid[-1]) + 1
    end = torch.zeros(g, dtype=torch.long, device=s.device).scatter_reduce(0, gid, pos, reduce="amax")
    end_pos = end.index_select(0, gid).view(m, n)
    precision_at_end = tp.gather(1, end_pos) / (end_pos + 1).double()
    n_pos = y_sorted.sum(1)
    ap = (precision_at_end * y_sorted).sum(1) / n_pos.clamp(min=1)
    ap = torch.where(n_pos > 0, ap, torch.full_like(ap, float("nan")))
    return ap.view(shape)


def multiclass_roc_auc(probs: Tensor, y_true: Tensor) -> Tensor:
    """One-vs-rest macro ROC-AUC (scikit-learn ``roc_auc_score(multi_class='ovr')``).

    Args:
        probs: [..., n, C] class scores (e.g. softmax probabilities).
        y_true: [..., n] integer labels in ``0 .. C − 1``.

    Returns:
        [...] float64: the mean over classes of the binary AUC of ``probs[..., c]`` against
        ``y_true == c`` (classes absent from ``y_true`` are skipped; NaN if none is left).
    """
    if probs.shape[:-1] != y_true.shape:
        raise ValueError(f"probs must have shape {tuple(y_true.shape)} + (C,), got {tuple(probs.shape)}")
    c = probs.size(-1)
    onehot = y_true.unsqueeze(-1) == torch.arange(c, device=y_true.device)      # [..., n, C]
    auc = roc_auc(probs.transpose(-1, -2), onehot.transpose(-1, -2))             # [..., C]
    valid = ~torch.isnan(auc)
    return torch.where(valid, auc, torch.zeros_like(auc)).sum(-1) / valid.sum(-1).double()
