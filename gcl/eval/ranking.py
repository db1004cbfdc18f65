"""Full-ranking top-K metrics for recommendation, with excluded items masked by index.

**Multi-target (collaborative filtering; LightGCN / LightGCL definitions).** For a user u with
held-out items T_u, score every item, set the excluded items (training items, plus validation
items when testing) to −∞ by their CSR indices, take the top K with ``torch.topk`` and let
``hit_r = 1`` if the item at 0-based rank r is in T_u:

* Recall@K    = Σ_{r<K} hit_r / |T_u|                     (denominator |T_u|, not min(K, |T_u|))
* Precision@K = Σ_{r<K} hit_r / K
* NDCG@K      = Σ_{r<K} hit_r / log2(r + 2)  /  Σ_{r < min(K, |T_u|)} 1 / log2(r + 2)
* HR@K        = 1 if any hit_r = 1 (r < K), else 0
* MRR@K       = 1 / (r* + 1) for the first hit r* < K, else 0

Users without held-out items are skipped; the result is the mean over the other users
(``average='batch'`` reproduces LightGCL's official mean of per-batch means, for parity checks).

**Single target (sequential recommendation).** One target t per row; its 1-based rank is
``1 + |{j ≠ t : s_j > s_t}|`` (``ties='optimistic'``) or ``1 + |{j ≠ t : s_j >= s_t}|``
(``ties='pessimistic'``, the default, so constant scores never look good). Padding and,
optionally, the row's history items (except the target itself) are excluded first. Then
HR@K = [rank <= K], NDCG@K = [rank <= K] / log2(rank + 1), MRR@K = [rank <= K] / rank.

Users are processed in batches (``[B, J]`` scores at a time); nothing of size users × items is
ever allocated, and the code runs on the device of the embeddings.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor

MULTI_TARGET_METRICS: tuple[str, ...] = ("recall", "ndcg", "precision", "hr", "mrr")
SINGLE_TARGET_METRICS: tuple[str, ...] = ("hr", "ndcg", "mrr")

CSRLike = Tensor | tuple[Tensor, Tensor]


def _crow_col(csr: CSRLike, name: str) -> tuple[Tensor, Tensor]:
    """``(indptr, indices)`` of a sparse CSR tensor or of a pair of tensors."""
    if isinstance(csr, tuple):
        crow, col = csr
    elif isinstance(csr, Tensor) and csr.layout == torch.sparse_csr:
        crow, col = csr.crow_indices(), csr.col_indices()
    else:
        raise ValueError(f"{name} must be a sparse CSR tensor or an (indptr, indices) pair")
    return crow.long(), col.long()


def _is_index_pair(x: object) -> bool:
    """An ``(indptr, indices)`` pair of dense 1-D tensors (not a tuple of CSR matrices)."""
    return (isinstance(x, tuple) and len(x) == 2
            and all(isinstance(t, Tensor) and t.layout == torch.strided and t.dim() == 1 for t in x))


def _segments(crow: Tensor, col: Tensor, users: Tensor) -> tuple[Tensor, Tensor]:
    """``(row, item)`` of every stored entry of the given users: row indexes ``users``."""
    start = crow.index_select(0, users)
    count = crow.index_select(0, users + 1) - start
    row = torch.repeat_interleave(torch.arange(users.numel(), device=users.device), count)
    total = row.numel()
    if total == 0:
        return row, row
    offset = torch.arange(total, device=users.device) - torch.repeat_interleave(
        torch.cumsum(count, 0) - count, count)
    return row, col.index_select(0, start.index_select(0, row) + offset)


def mask_items(scores: Tensor, users: Tensor, *excluded: CSRLike, value: float = float("-inf")) -> Tensor:
    """Set ``scores[b, j] = value`` for every item j stored in row ``users[b]`` of each CSR in
    ``excluded`` (in place; returns ``scores``).

    Args:
        scores: [B, J] scores of the batch users.
        users: [B] long user ids (rows of the CSR matrices).
        *excluded: [U, J] sparse CSR tensors or ``(indptr [U+1], indices [nnz])`` pairs.
        value: the fill value (−∞).
    """
    if scores.dim() != 2 or scores.size(0) != users.numel():
        raise ValueError(f"scores must be [B, J] with one row per user ({users.numel()}), "
                         f"got {tuple(scores.shape)}")
    for i, csr in enumerate(excluded):
        crow, col = _crow_col(csr, f"excluded[{i}]")
        crow, col = crow.to(scores.device), col.to(scores.device)
        row, item = _segments(crow, col, users.to(scores.device))
        scores[row, item] = value
    return scores


def _ndcg_discounts(k: int, device: torch.device) -> Tensor:
    return 1.0 / torch.log2(torch.arange(k, device=device, dtype=torch.float64) + 2)


def topk_hits(scores: Tensor, users: Tensor, truth: CSRLike, k: int) -> tuple[Tensor, Tensor]:
    """Hits of the top-k items of every row against the held-out items.

    Args:
        scores: [B, J] (excluded items already masked).
        users: [B] user ids (rows of ``truth``).
        truth: [U, J] CSR of held-out items.
        k: list length (clamped to J).

    Returns:
        ``(hits [B, k] bool, n_true [B] long)``.
    """
    if scores.dim() != 2 or scores.size(0) != users.numel():
        raise ValueError(f"scores must be [B, J] with one row per user ({users.numel()}), "
                         f"got {tuple(scores.shape)}")
    crow, col = _crow_col(truth, "truth")
    crow, col = crow.to(scores.device), col.to(scores.device)
    users = users.to(scores.device)
    k = min(k, scores.size(1))
    top = torch.topk(scores, k, dim=1).indices                              # [B, k]
    # membership of (row, item) pairs by flat keys: no dense [B, J] relevance matrix
    n_items = scores.size(1)
    row, item = _segments(crow, col, users)
    top_keys = torch.arange(top.size(0), device=top.device)[:, None] * n_items + top
    hits = torch.isin(top_keys, row * n_items + item)
    n_true = crow.index_select(0, users + 1) - crow.index_select(0, users)
    return hits, n_true


def metrics_from_hits(hits: Tensor, n_true: Tensor, ks: Sequence[int],
                      metrics: Sequence[str] = MULTI_TARGET_METRICS) -> dict[str, Tensor]:
    """Per-user metric values from a hit matrix (definitions in the module docstring).

    Args:
        hits: [B, K_max] bool, ``hits[b, r]`` = the item at rank r is relevant.
        n_true: [B] number of held-out items (> 0).
        ks: cut-offs, each <= K_max.
        metrics: names among ``recall, ndcg, precision, hr, mrr``.

    Returns:
        ``{'recall@20': [B] float64, ...}``.
    """
    h = hits.double()
    kmax = h.size(1)
    disc = _ndcg_discounts(kmax, h.device)
    n_true_f = n_true.double()
    cum_disc = torch.cumsum(disc, 0)
    first = torch.where(hits.any(1), hits.double().argmax(1), torch.full_like(n_true, kmax))
    out: dict[str, Tensor] = {}
    for k in ks:
        if k > kmax:
            raise ValueError(f"k = {k} exceeds the {kmax} ranked items")
        hk = h[:, :k]
        n_hit = hk.sum(1)
        for m in metrics:
            if m == "recall":
                v = n_hit / n_true_f
            elif m == "precision":
                v = n_hit / k
            elif m == "hr":
                v = (n_hit > 0).double()
            elif m == "ndcg":
                ideal = cum_disc.index_select(0, (n_true.clamp(max=k) - 1).clamp(min=0))
                v = (hk * disc[:k]).sum(1) / ideal
            elif m == "mrr":
                v = torch.where(first < k, 1.0 / (first.double() + 1), torch.zeros_like(n_hit))
            else:
                raise ValueError(f"unknown metric {m!r}; expected one of {MULTI_TARGET_METRICS}")
            out[f"{m}@{k}"] = v
    return out


def full_ranking(
    score_fn: Callable[[Tensor], Tensor],
    truth: CSRLike,
    *,
    exclude: Iterable[CSRLike] | CSRLike | None = None,
    ks: Sequence[int] = (20,),
    metrics: Sequence[str] = MULTI_TARGET_METRICS,
    users: Tensor | None = None,
    batch_size: int = 1024,
    average: str = "user",
) -> dict[str, float]:
    """Full-ranking top-K metrics over all items (definitions in the module docstring).

    Args:
        score_fn: maps a [B] long tensor of user ids to their [B, J] item scores (e.g.
            ``lambda u: user_emb[u] @ item_emb.T``). A fresh tensor: it is masked in place.
        truth: [U, J] CSR of held-out items (test or validation).
        exclude: CSR(s) of items to rank below everything (training items; plus validation
            items when testing).
        ks: cut-offs K.
        metrics: among ``recall, ndcg, precision, hr, mrr``.
        users: the users to evaluate (default: every user with a held-out item); users
            without held-out items are always skipped.
        batch_size: users per batch.
        average: ``'user'`` (mean over users) or ``'batch'`` (mean of per-batch means).

    Returns:
        ``{'recall@20': ..., 'ndcg@20': ..., 'n_users': number of users evaluated}``.
    """
    if average not in ("user", "batch"):
        raise ValueError(f"average must be 'user' or 'batch', got {average!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for m in metrics:
        if m not in MULTI_TARGET_METRICS:
            raise ValueError(f"unknown metric {m!r}; expected one of {MULTI_TARGET_METRICS}")
    crow, col = _crow_col(truth, "truth")
    if exclude is None:
        excl: list[CSRLike] = []
    elif isinstance(exclude, Tensor) or _is_index_pair(exclude):
        excl = [exclude]  # type: ignore[list-item]
    else:
        excl = list(exclude)
    n_true_all = crow[1:] - crow[:-1]
    if users is None:
        users = torch.nonzero(n_true_all > 0).view(-1)
    else:
        users = torch.as_tensor(users, device=crow.device).long().view(-1)
        users = users[n_true_all.index_select(0, users) > 0]
    kmax = max(ks)
    sums: dict[str, float] = {}
    batch_means: dict[str, list[float]] = {}
    for start in range(0, users.numel(), batch_size):
        u = users[start:start + batch_size]
        scores = score_fn(u)
        if scores.dim() != 2 or scores.size(0) != u.numel():
            raise ValueError(f"score_fn returned shape {tuple(scores.shape)} for {u.numel()} users")
        u_dev = u.to(scores.device)
        mask_items(scores, u_dev, *excl)
        hits, n_true = topk_hits(scores, u_dev, (crow, col), kmax)
        vals = metrics_from_hits(hits, n_true, ks, metrics)
        for key, v in vals.items():
            sums[key] = sums.get(key, 0.0) + float(v.sum())
            batch_means.setdefault(key, []).append(float(v.mean()))
    n = int(users.numel())
    if average == "user":
        out = {key: (s / n if n else float("nan")) for key, s in sums.items()}
    else:
        out = {key: sum(v) / len(v) for key, v in batch_means.items()}
    if not out:
        out = {f"{m}@{k}": float("nan") for k in ks for m in metrics}
    out["n_users"] = float(n)
    return out


def rank_by_embeddings(
    user_emb: Tensor,
    item_emb: Tensor,
    truth: CSRLike,
    **kwargs: object,
) -> dict[str, float]:
    """:func:`full_ranking` with dot-product scores ``user_emb[u] @ item_emb.T``.

    Args:
        user_emb: [U, d]; item_emb: [J, d].
        truth: [U, J] CSR of held-out items.
        **kwargs: ``exclude``, ``ks``, ``metrics``, ``users``, ``batch_size``, ``average``.
    """
    if user_emb.size(1) != item_emb.size(1):
        raise ValueError(f"user_emb and item_emb widths differ: {user_emb.size(1)} vs {item_emb.size(1)}")
    item_t = item_emb.detach().T

    def score(u: Tensor) -> Tensor:
        return user_emb.detach().index_select(0, u.to(user_emb.device)) @ item_t

    return full_ranking(score, truth, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- single target


def single_target_ranks(
    scores: Tensor,
    targets: Tensor,
    *,
    history: Tensor | None = None,
    padding_idx: int | None = 0,
    ties: str = "pessimistic",
) -> Tensor:
    """1-based rank of each row's target among all items.

    Args:
        scores: [B, J] item scores (column = item id). Not modified.
        targets: [B] target item ids.
        history: optional [B, L] item ids to exclude (entries equal to ``padding_idx`` or
            outside ``0 .. J − 1`` are ignored); the target itself is never excluded.
        padding_idx: a column that is never ranked (the padding item), or None.
        ties: ``'pessimistic'`` (items scoring equal to the target rank above it) or
            ``'optimistic'``.

    Returns:
        [B] long ranks in ``1 .. J``.
    """
    if ties not in ("pessimistic", "optimistic"):
        raise ValueError(f"ties must be 'pessimistic' or 'optimistic', got {ties!r}")
    if scores.dim() != 2 or targets.shape != (scores.size(0),):
        raise ValueError(f"scores must be [B, J] and targets [B], got {tuple(scores.shape)} "
                         f"and {tuple(targets.shape)}")
    b, j = scores.shape
    targets = targets.to(scores.device).long()
    if b and (int(targets.min()) < 0 or int(targets.max()) >= j):
        raise ValueError(f"targets must be item ids in [0, {j})")
    target_score = scores.gather(1, targets.unsqueeze(1))
    above = scores >= target_score if ties == "pessimistic" else scores > target_score
    excluded = torch.zeros_like(above)
    if padding_idx is not None:
        excluded[:, padding_idx] = True
    if history is not None:
        hist = history.to(scores.device).long()
        if hist.dim() != 2 or hist.size(0) != b:
            raise ValueError(f"history must be [B = {b}, L], got {tuple(hist.shape)}")
        keep = (hist >= 0) & (hist < j)
        if padding_idx is not None:
            keep &= hist != padding_idx
        rows = torch.arange(b, device=scores.device).unsqueeze(1).expand_as(hist)
        excluded[rows[keep], hist[keep]] = True
    excluded.scatter_(1, targets.unsqueeze(1), False)       # the target is always ranked
    above &= ~excluded
    above.scatter_(1, targets.unsqueeze(1), False)          # not counted against itself
    return above.sum(1) + 1


def single_target_metrics(ranks: Tensor, ks: Sequence[int] = (5, 10, 20),
                          metrics: Sequence[str] = SINGLE_TARGET_METRICS) -> dict[str, float]:
    """Mean HR@K, NDCG@K = 1/log2(rank + 1), MRR@K over rows, from 1-based ranks.

    Args:
        ranks: [B] ranks (e.g. from :func:`single_target_ranks`, concatenated over batches).
        ks: cut-offs.
        metrics: among ``hr, ndcg, mrr``.

    Returns:
        ``{'hr@10': ..., 'ndcg@10': ..., 'mrr@10': ...}``.
    """
    r = ranks.double()
    out: dict[str, float] = {}
    for k in ks:
        inside = r <= k
        for m in metrics:
            if m == "hr":
                v = inside.double()
            elif m == "ndcg":
                v = torch.where(inside, 1.0 / torch.log2(r + 1), torch.zeros_like(r))
            elif m == "mrr":
                v = torch.where(inside, 1.0 / r, torch.zeros_like(r))
            else:
                raise ValueError(f"unknown metric {m!r}; expected one of {SINGLE_TARGET_METRICS}")
            out[f"{m}@{k}"] = float(v.mean()) if r.numel() else math.nan
    return out
