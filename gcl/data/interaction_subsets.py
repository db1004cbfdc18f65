"""Seeded user subsamples of an :class:`InteractionGraph` and a fingerprint of its split.

* :func:`subsample_users` keeps ``n`` users chosen uniformly without replacement (seeded) with
  all their train / valid / test interactions, and the items those interactions touch; users
  and items are renumbered ``0 ..`` in their original order. Used for CPU-scale experiments
  (e.g. the 5,000-user Gowalla subsample).
* :func:`split_hash` is a SHA-1 of the three splits' CSR index arrays and the shape, so a
  result can name exactly which train / valid / test split it was computed on.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from gcl.data.interactions import SPLITS, InteractionGraph


def split_hash(graph: InteractionGraph) -> str:
    """16 hex digits identifying the shape and the train / valid / test interactions."""
    digest = hashlib.sha1(f"{graph.n_users}x{graph.n_items}".encode())
    for split in SPLITS:
        mat = graph.split(split)
        for arr in (mat.crow_indices(), mat.col_indices()):
            digest.update(split.encode())
            digest.update(arr.detach().cpu().to(torch.int64).numpy().tobytes())
    return digest.hexdigest()[:16]


def subsample_users(graph: InteractionGraph, n_users: int, seed: int = 0) -> InteractionGraph:
    """The sub-graph of ``n_users`` random users (seeded) and the items they interacted with.

    Args:
        graph: the full graph (any device; the result is on the same device).
        n_users: users to keep, ``1 <= n_users``; ``>= graph.n_users`` returns ``graph``.
        seed: seed of the NumPy generator choosing the users.

    Returns:
        A new graph; item ids are renumbered over the items seen in any split of the kept
        users, users over the kept users (both in ascending original id).
    """
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users}")
    if n_users >= graph.n_users:
        return graph
    keep = np.sort(np.random.default_rng(seed).choice(graph.n_users, n_users, replace=False))
    user_map = np.full(graph.n_users, -1, dtype=np.int64)
    user_map[keep] = np.arange(n_users)
    pairs = {}
    for split in SPLITS:
        u, i = (t.cpu().numpy() for t in graph.pairs(split))
        sel = user_map[u] >= 0
        pairs[split] = (user_map[u[sel]], i[sel])
    items = np.unique(np.concatenate([p[1] for p in pairs.values()]))
    item_map = np.full(graph.n_items, -1, dtype=np.int64)
    item_map[items] = np.arange(items.size)
    remapped = {s: (u, item_map[i]) for s, (u, i) in pairs.items()}
    out = InteractionGraph.from_pairs(
        n_users, int(items.size), remapped["train"], remapped["test"], remapped["valid"],
        name=f"{graph.name}-sub{n_users}" if graph.name else f"sub{n_users}",
        valid_origin=graph.valid_origin,
    )
    return out.to(graph.device)


__all__ = ["split_hash", "subsample_users"]
