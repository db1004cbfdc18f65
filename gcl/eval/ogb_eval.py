"""OGB evaluation: a thin wrapper over OGB's ``Evaluator`` and a torch twin of its multi-task
ROC-AUC / AP.

:func:`ogb_evaluate` builds OGB's input dictionary from tensors (1-D inputs become one column;
class scores ``[n, C]`` of a node-classification set become ``argmax`` predictions) and returns
OGB's result dictionary, e.g. ``{'rocauc': 0.79}`` for ``ogbg-molbace``.

:func:`multitask_score` computes what OGB's graph-property evaluator computes for ``rocauc`` and
``ap``, on the device of the inputs: for every task (column) with at least one positive and one
negative label, the metric over the labelled rows (NaN labels are ignored); the result is the
mean over those tasks. Useful inside training loops without a NumPy round trip.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gcl.eval.classification import average_precision, roc_auc


def ogb_metric(name: str) -> str:
    """The metric OGB reports for dataset ``name`` (e.g. ``'rocauc'`` for ``ogbg-molbace``)."""
    from gcl.data.ogb import evaluator

    return str(evaluator(name).eval_metric)


def _column(t: Any) -> Any:
    if isinstance(t, Tensor):
        t = t.detach()
        return t.view(-1, 1) if t.dim() == 1 else t
    return t


def ogb_evaluate(name: str, y_true: Tensor | None = None, y_pred: Tensor | None = None,
                 **inputs: Any) -> dict[str, float]:
    """OGB's ``Evaluator(name).eval`` on tensors.

    Args:
        name: an OGB dataset name (``'ogbg-molbace'``, ``'ogbn-arxiv'``, ``'ogbl-collab'``, ...).
        y_true: [n] or [n, T] labels (NaN = unlabelled for the molecule sets).
        y_pred: [n] or [n, T] scores (logits or probabilities; ROC-AUC is rank-based). For
            node classification (metric ``acc``) class scores [n, C] are reduced by ``argmax``.
        **inputs: other keys of OGB's input dictionary, e.g. ``y_pred_pos`` and ``y_pred_neg``
            for link prediction.

    Returns:
        OGB's result dictionary with plain floats.

    Raises:
        gcl.data.DatasetError: unknown dataset name.
        RuntimeError: OGB's own input checks (wrong shape, number of tasks, ...).
    """
    from gcl.data.ogb import evaluator

    ev = evaluator(name)
    payload: dict[str, Any] = {k: _column(v) if k in ("y_true", "y_pred") else v for k, v in inputs.items()}
    if y_true is not None:
        payload["y_true"] = _column(y_true)
    if y_pred is not None:
        y_pred = _column(y_pred)
        true_cols = payload["y_true"].shape[1] if "y_true" in payload else None
        if (ev.eval_metric == "acc" and isinstance(y_pred, Tensor) and y_pred.is_floating_point()
                and true_cols is not None and y_pred.size(1) != true_cols):
            y_pred = y_pred.argmax(-1, keepdim=True)
        payload["y_pred"] = y_pred
    result = ev.eval(payload)
    return {k: float(v) if not isinstance(v, (list, tuple)) else v for k, v in result.items()}


def multitask_score(y_true: Tensor, y_pred: Tensor, metric: str = "rocauc") -> float:
    """OGB's multi-task ROC-AUC or AP in torch (definition in the module docstring).

    Args:
        y_true: [n] or [n, T] labels in {0, 1} with NaN for missing labels.
        y_pred: scores of the same shape.
        metric: ``'rocauc'`` or ``'ap'``.

    Returns:
        The mean over the tasks that have both classes among their labelled rows.

    Raises:
        ValueError: shapes differ, unknown metric, or no task has both classes.
    """
    if metric not in ("rocauc", "ap"):
        raise ValueError(f"metric must be 'rocauc' or 'ap', got {metric!r}")
    yt, yp = _column(y_true), _column(y_pred)
    if yt.shape != yp.shape or yt.dim() != 2:
        raise ValueError(f"y_true and y_pred must have the same [n, T] shape, got "
                         f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}")
    yt = yt.to(yp.device).double()
    fn = roc_auc if metric == "rocauc" else average_precision
    scores = []
    for t in range(yt.size(1)):  # one pass per task column (tasks have different labelled rows)
        col = yt[:, t]
        labelled = ~torch.isnan(col)
        if bool((col == 1).any()) and bool((col == 0).any()):
            scores.append(fn(yp[labelled, t], col[labelled] == 1))
    if not scores:
        raise ValueError("no task has both a positive and a negative label: the score is undefined")
    return float(torch.stack(scores).mean())
