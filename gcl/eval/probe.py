"""Linear (logistic-regression) probes on frozen embeddings.

The probe fits ``softmax(x W + b)`` on the training nodes for every weight decay of a grid at
once (the grid is a batch dimension, so one run of Adam trains them all), selects the weight
decay with the best validation accuracy, and reports that model's test accuracy: test data
never influence a choice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_WEIGHT_DECAYS: tuple[float, ...] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of :func:`linear_probe`.

    Attributes:
        val_acc: validation accuracy of the selected model.
        test_acc: test accuracy of the selected model (``nan`` when no test index is given).
        weight_decay: the selected L2 coefficient.
        train_acc: training accuracy of the selected model.
    """

    val_acc: float
    test_acc: float
    weight_decay: float
    train_acc: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}val_acc": self.val_acc, f"{prefix}test_acc": self.test_acc,
                f"{prefix}train_acc": self.train_acc, f"{prefix}weight_decay": self.weight_decay}


def _accuracy(logits: Tensor, y: Tensor) -> Tensor:
    """[G, n, C], [n] -> [G] accuracies."""
    return (logits.argmax(-1) == y).float().mean(-1)


@torch.enable_grad()
def linear_probe(
    embeddings: Tensor,
    y: Tensor,
    train_idx: Tensor,
    val_idx: Tensor,
    test_idx: Tensor | None = None,
    *,
    weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
    epochs: int = 300,
    lr: float = 0.05,
    normalize: bool = True,
) -> ProbeResult:
    """Logistic-regression probe with weight decay chosen on validation accuracy.

    Minimises, for each ``wd`` in the grid, the mean cross-entropy on ``train_idx`` plus
    ``wd / 2 * ||W||^2`` (bias unpenalised), from zero initialisation with full-batch Adam;
    the problem is convex, so the result does not depend on a seed.

    Args:
        embeddings: [N, d] frozen node embeddings (detached inside).
        y: [N] integer labels.
        train_idx, val_idx, test_idx: long index tensors (or boolean masks) into the N rows.
        weight_decays: the grid searched on validation accuracy.
        epochs: Adam steps.
        lr: Adam learning rate.
        normalize: L2-normalise embedding rows first (as in GRACE's protocol).

    Returns:
        A :class:`ProbeResult`; ties on validation go to the smaller weight decay.
    """
    x = embeddings.detach().float()
    if normalize:
        x = F.normalize(x, dim=1)
    idx = [i.nonzero().view(-1) if i is not None and i.dtype == torch.bool else i
           for i in (train_idx, val_idx, test_idx)]
    train_idx, val_idx, test_idx = idx
    y = y.to(x.device).long()
    num_classes = int(y.max()) + 1
    decays = [float(wd) for wd in weight_decays]
    grid = torch.tensor(decays, dtype=x.dtype, device=x.device)
    g, d = grid.numel(), x.size(1)
    w = torch.zeros(g, d, num_classes, device=x.device, requires_grad=True)
    b = torch.zeros(g, 1, num_classes, device=x.device, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    xt, yt = x[train_idx], y[train_idx]
    for _ in range(epochs):
        opt.zero_grad()
        logits = xt.unsqueeze(0) @ w + b                                  # [G, n, C]
        ce = F.cross_entropy(logits.reshape(-1, num_classes), yt.repeat(g), reduction="none")
        loss = ce.view(g, -1).mean(1) + 0.5 * grid * w.pow(2).sum((1, 2))
        loss.sum().backward()  # the grid members are independent: summing keeps each gradient
        opt.step()
    with torch.no_grad():
        def acc(index: Tensor) -> Tensor:
            return _accuracy(x[index].unsqueeze(0) @ w + b, y[index])

        val = acc(val_idx)
        tied = torch.nonzero(val == val.max()).view(-1).tolist()
        best = min(tied, key=lambda i: decays[i])  # ties: the smaller weight decay
        test = float(acc(test_idx)[best]) if test_idx is not None else float("nan")
        return ProbeResult(val_acc=float(val[best]), test_acc=test,
                           weight_decay=decays[best], train_acc=float(acc(train_idx)[best]))
