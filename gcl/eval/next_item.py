"""Next-item evaluation on the leave-one-out splits of a :class:`gcl.data.SequenceDataset`.

For every user, the model scores all items from the input of the split (valid: ``s_1 ..
s_{n-2}``, test: ``s_1 .. s_{n-1}``, cut to the last ``max_len``); the target's 1-based rank
among all items, padding excluded, gives HR@K, NDCG@K = 1/log₂(rank + 1) and MRR@K
(:func:`gcl.eval.ranking.single_target_ranks`, pessimistic ties).

History masking: with ``mask_history=False`` (default; MCLRec's, DuoRec's and RecBole's
protocol) every item is ranked; with ``mask_history=True`` (S3-Rec / ICLRec style) the items
the user saw before the target (the whole history, not only the last ``max_len``) are
excluded, the target itself never. Masking can only raise the scores, so results must say
which protocol they used (the returned dict does).

Users are processed in batches; nothing of size users x items is allocated.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from gcl.data.sequences import SequenceDataset
from gcl.eval.ranking import single_target_metrics, single_target_ranks

SPLITS = ("valid", "test")


def next_item_ranks(
    score_fn: Callable[[Tensor], Tensor],
    dataset: SequenceDataset,
    split: str,
    *,
    mask_history: bool = False,
    users: Tensor | None = None,
    batch_size: int = 512,
) -> Tensor:
    """1-based rank of every user's ``split`` target.

    Args:
        score_fn: ``[B, max_len]`` left-padded inputs -> ``[B, n_items + 1]`` scores (column =
            item id, column 0 the padding item, which is never ranked).
        dataset: the sequences (on the device ``score_fn`` expects).
        split: ``"valid"`` or ``"test"``.
        mask_history: exclude the items seen before the target.
        users: user rows to evaluate (default: all).
        batch_size: users per batch.

    Returns:
        ``[U]`` int64 ranks, in the order of ``users``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    users = torch.arange(dataset.n_users, device=dataset.device) if users is None else users.to(dataset.device)
    ranks = []
    for start in range(0, users.numel(), batch_size):
        u = users[start:start + batch_size]
        batch = dataset.valid_batch(u) if split == "valid" else dataset.test_batch(u)
        scores = score_fn(batch.inputs)
        if scores.shape != (u.numel(), dataset.n_items + 1):
            raise ValueError(f"score_fn must return [B, n_items + 1] = [{u.numel()}, {dataset.n_items + 1}] "
                             f"scores, got {tuple(scores.shape)}")
        history = None
        if mask_history:
            history = dataset.padded_inputs(u, batch.ends, max_len=max(1, int(batch.ends.max())))
        ranks.append(single_target_ranks(scores, batch.targets, history=history, padding_idx=0))
    return torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.int64, device=dataset.device)


def evaluate_next_item(
    score_fn: Callable[[Tensor], Tensor],
    dataset: SequenceDataset,
    split: str,
    *,
    ks: Sequence[int] = (5, 10, 20),
    mask_history: bool = False,
    users: Tensor | None = None,
    batch_size: int = 512,
) -> dict[str, float]:
    """HR@K, NDCG@K, MRR@K of the ``split`` targets (arguments as :func:`next_item_ranks`).

    Returns:
        ``{'hr@5': ..., 'ndcg@5': ..., 'mrr@5': ..., ..., 'n_users': U}``.
    """
    ranks = next_item_ranks(score_fn, dataset, split, mask_history=mask_history, users=users,
                            batch_size=batch_size)
    return {**single_target_metrics(ranks, ks), "n_users": float(ranks.numel())}


__all__ = ["SPLITS", "evaluate_next_item", "next_item_ranks"]
