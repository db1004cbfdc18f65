"""The HeCo / DMGI node-classification protocol: a logistic-regression probe trained many times.

Per run r (default 50 runs), on frozen embeddings ``X`` (not normalised):

1. a fresh ``Linear(d, C)`` with Xavier-uniform weight and zero bias;
2. ``epochs`` (200) full-batch Adam steps (``lr``, ``weight_decay`` as L2 added to the gradient)
   on the mean cross-entropy of the training nodes;
3. after every step, predict the validation and test nodes;
4. **Ma-F1** = test macro-F1 at the epoch of the best validation macro-F1;
   **Mi-F1** = test micro-F1 at the epoch of the best validation micro-F1;
   **AUC** = one-vs-rest macro ROC-AUC of the test softmax at that best-validation-micro-F1
   epoch. Ties go to the earliest epoch (HeCo takes the first index of the maximum).

Reported: mean and standard deviation over runs (population std, as ``numpy.std``). Test data
never influence a choice.

The runs are independent models that differ only in their initialisation, so they are trained
together as one batched model ``[R, d, C]``: Adam is element-wise, and summing the per-run
losses leaves each run's gradient unchanged, so the numbers equal R separate trainings.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from gcl.eval.classification import macro_f1, micro_f1, multiclass_roc_auc


@dataclass(frozen=True)
class HeCoProbeResult:
    """Outcome of :func:`heco_probe` (fractions in [0, 1], not percentages).

    Attributes:
        macro_f1, macro_f1_std: mean / std over runs of the selected test macro-F1.
        micro_f1, micro_f1_std: same for micro-F1.
        auc, auc_std: same for the one-vs-rest macro ROC-AUC.
        val_macro_f1, val_micro_f1: mean over runs of the best validation macro- / micro-F1
            (what model selection may use; no test data involved).
        runs: per-run values, keys ``macro_f1``, ``micro_f1``, ``auc``, ``macro_epoch``,
            ``micro_epoch`` (0-based epoch of each selection).
    """

    macro_f1: float
    macro_f1_std: float
    micro_f1: float
    micro_f1_std: float
    auc: float
    auc_std: float
    val_macro_f1: float = float("nan")
    val_micro_f1: float = float("nan")
    runs: dict[str, list[float]] = field(default_factory=dict, compare=False)

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        keys = ("macro_f1", "macro_f1_std", "micro_f1", "micro_f1_std", "auc", "auc_std")
        return {f"{prefix}{k}": getattr(self, k) for k in keys}


def _index(idx: Tensor, name: str, n: int, device: torch.device) -> Tensor:
    idx = torch.as_tensor(idx, device=device)
    if idx.dtype == torch.bool:
        if idx.numel() != n:
            raise ValueError(f"{name} is a mask of {idx.numel()} entries for {n} nodes")
        idx = idx.nonzero().view(-1)
    idx = idx.long().view(-1)
    if idx.numel() == 0:
        raise ValueError(f"{name} is empty")
    if int(idx.min()) < 0 or int(idx.max()) >= n:
        raise ValueError(f"{name} holds node ids outside [0, {n})")
    return idx


def _std(x: Tensor) -> float:
    return float(x.std(unbiased=False)) if x.numel() > 1 else 0.0


@torch.no_grad()
def heco_probe(
    embeddings: Tensor,
    y: Tensor,
    train_idx: Tensor,
    val_idx: Tensor,
    test_idx: Tensor,
    *,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    epochs: int = 200,
    runs: int = 50,
    generator: torch.Generator | None = None,
) -> HeCoProbeResult:
    """Run the HeCo protocol (see the module docstring) on frozen embeddings.

    Args:
        embeddings: [N, d] node embeddings (detached; used as they are).
        y: [N] integer labels ``0 .. C − 1``.
        train_idx, val_idx, test_idx: index tensors (or boolean masks) into the N rows.
        lr: Adam learning rate (HeCo's ``eva_lr``; MEOW ACM 0.03, IMDB 0.01).
        weight_decay: Adam weight decay (``eva_wd``).
        epochs: training steps per run (200).
        runs: independent repetitions (50).
        generator: source of the initialisations (None = torch's global RNG).

    Returns:
        :class:`HeCoProbeResult`.
    """
    if epochs < 1 or runs < 1:
        raise ValueError(f"epochs and runs must be >= 1, got {epochs}, {runs}")
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must have shape [N, d], got {tuple(embeddings.shape)}")
    x = embeddings.detach().float()
    n, d = x.shape
    dev = x.device
    y = torch.as_tensor(y, device=dev).long().view(-1)
    if y.numel() != n:
        raise ValueError(f"y has {y.numel()} labels for {n} embeddings")
    tr, va, te = (_index(i, name, n, dev) for i, name in
                  ((train_idx, "train_idx"), (val_idx, "val_idx"), (test_idx, "test_idx")))
    num_classes = int(y.max()) + 1
    if int(y.min()) < 0:
        raise ValueError("y must hold labels >= 0")

    bound = math.sqrt(6.0 / (d + num_classes))
    draw_on = generator.device if generator is not None else None
    w0 = torch.rand(runs, d, num_classes, generator=generator, device=draw_on)
    w = ((w0.to(dev) * 2 - 1) * bound).requires_grad_()
    b = torch.zeros(runs, 1, num_classes, device=dev, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr, weight_decay=weight_decay)
    xt, yt = x[tr], y[tr]
    xv, yv, xs, ys = x[va], y[va], x[te], y[te]
    yv_r, ys_r = yv.expand(runs, -1), ys.expand(runs, -1)

    neg = torch.full((runs,), -1.0, dtype=torch.float64, device=dev)
    best_val_ma, best_val_mi = neg.clone(), neg.clone()
    test_ma, test_mi, test_auc = torch.zeros_like(neg), torch.zeros_like(neg), torch.zeros_like(neg)
    ep_ma = torch.zeros(runs, dtype=torch.long, device=dev)
    ep_mi = torch.zeros_like(ep_ma)
    for epoch in range(epochs):
        with torch.enable_grad():
            opt.zero_grad()
            logits = xt.unsqueeze(0) @ w + b                                     # [R, n, C]
            loss = F.cross_entropy(logits.reshape(-1, num_classes), yt.repeat(runs), reduction="none")
            loss.view(runs, -1).mean(1).sum().backward()  # runs are independent
            opt.step()
        pv = (xv.unsqueeze(0) @ w + b).argmax(-1)
        ls = xs.unsqueeze(0) @ w + b
        ps = ls.argmax(-1)
        v_ma = macro_f1(yv_r, pv, num_classes)
        v_mi = micro_f1(yv_r, pv)
        up_ma = v_ma > best_val_ma                     # strict: the first epoch of the maximum
        up_mi = v_mi > best_val_mi
        best_val_ma = torch.where(up_ma, v_ma, best_val_ma)
        best_val_mi = torch.where(up_mi, v_mi, best_val_mi)
        test_ma = torch.where(up_ma, macro_f1(ys_r, ps, num_classes), test_ma)
        test_mi = torch.where(up_mi, micro_f1(ys_r, ps), test_mi)
        ep_ma = torch.where(up_ma, torch.full_like(ep_ma, epoch), ep_ma)
        ep_mi = torch.where(up_mi, torch.full_like(ep_mi, epoch), ep_mi)
        if bool(up_mi.any()):
            sel = up_mi.nonzero().view(-1)
            auc = multiclass_roc_auc(torch.softmax(ls.index_select(0, sel), -1), ys_r.index_select(0, sel))
            test_auc = test_auc.index_copy(0, sel, auc)
    return HeCoProbeResult(
        macro_f1=float(test_ma.mean()), macro_f1_std=_std(test_ma),
        micro_f1=float(test_mi.mean()), micro_f1_std=_std(test_mi),
        auc=float(test_auc.mean()), auc_std=_std(test_auc),
        val_macro_f1=float(best_val_ma.mean()), val_micro_f1=float(best_val_mi.mean()),
        runs={"macro_f1": test_ma.tolist(), "micro_f1": test_mi.tolist(), "auc": test_auc.tolist(),
              "macro_epoch": ep_ma.tolist(), "micro_epoch": ep_mi.tolist()},
    )


def heco_protocol(
    embeddings: Tensor,
    y: Tensor,
    splits: Mapping[int, tuple[Tensor, Tensor, Tensor]],
    **kwargs: Any,
) -> dict[int, HeCoProbeResult]:
    """:func:`heco_probe` for every label rate.

    Args:
        embeddings, y: as in :func:`heco_probe`.
        splits: label rate (e.g. 20, 40, 60 labelled nodes per class) ->
            ``(train_idx, val_idx, test_idx)``; for a ``HeteroData`` from ``gcl.data``:
            ``{r: gcl.data.hetero.get_split(data, r) for r in data.label_rates}``.
        **kwargs: ``lr``, ``weight_decay``, ``epochs``, ``runs``, ``generator``.

    Returns:
        label rate -> :class:`HeCoProbeResult`, in the order of ``splits``.
    """
    return {rate: heco_probe(embeddings, y, *split, **kwargs) for rate, split in splits.items()}
