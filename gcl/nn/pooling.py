"""Global (graph-level) pooling of node embeddings over a PyG ``batch`` vector.

For graph ``g`` with node set ``V_g = {i : batch[i] = g}``:

* sum:  ``r_g = Σ_{i ∈ V_g} x_i``
* mean: ``r_g = (1 / |V_g|) Σ_{i ∈ V_g} x_i``
* max:  ``r_g = max_{i ∈ V_g} x_i`` (element-wise)

Graphs without nodes get a zero row. Native ``index_add_`` / ``scatter_reduce`` only; one pass
over the nodes; gradients of max flow to the maximising entries (split evenly on ties).
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor


def _size(batch: Tensor, size: int | None) -> int:
    if size is not None:
        return int(size)
    return int(batch.max()) + 1 if batch.numel() else 0


def _check(x: Tensor, batch: Tensor) -> None:
    if batch.dim() != 1 or batch.numel() != x.size(0):
        raise ValueError(f"batch must be a [N] vector with N = x.size(0) = {x.size(0)}, "
                         f"got shape {tuple(batch.shape)}")


def global_add_pool(x: Tensor, batch: Tensor, size: int | None = None) -> Tensor:
    """Sum of node rows per graph.

    Args:
        x: [N, d] node embeddings.
        batch: [N] long graph index of every node (need not be sorted).
        size: number of graphs G (default ``batch.max() + 1``; pass it to avoid a sync).

    Returns:
        [G, d].
    """
    _check(x, batch)
    g = _size(batch, size)
    return x.new_zeros((g,) + x.shape[1:]).index_add_(0, batch, x)


def global_mean_pool(x: Tensor, batch: Tensor, size: int | None = None) -> Tensor:
    """Mean of node rows per graph (zero for a graph without nodes). Shapes as
    :func:`global_add_pool`."""
    _check(x, batch)
    g = _size(batch, size)
    total = x.new_zeros((g,) + x.shape[1:]).index_add_(0, batch, x)
    count = torch.bincount(batch, minlength=g).clamp_(min=1).to(x.dtype)
    return total / count.view((-1,) + (1,) * (x.dim() - 1))


def global_max_pool(x: Tensor, batch: Tensor, size: int | None = None) -> Tensor:
    """Element-wise max of node rows per graph (zero for a graph without nodes). Shapes as
    :func:`global_add_pool`."""
    _check(x, batch)
    g = _size(batch, size)
    index = batch.view((-1,) + (1,) * (x.dim() - 1)).expand_as(x)
    out = x.new_zeros((g,) + x.shape[1:])
    return out.scatter_reduce(0, index, x, reduce="amax", include_self=False)


def global_pool(x: Tensor, batch: Tensor, reduce: Literal["sum", "add", "mean", "max"] = "mean",
                size: int | None = None) -> Tensor:
    """Dispatch to :func:`global_add_pool` (``'sum'``/``'add'``), :func:`global_mean_pool` or
    :func:`global_max_pool`."""
    if reduce in ("sum", "add"):
        return global_add_pool(x, batch, size)
    if reduce == "mean":
        return global_mean_pool(x, batch, size)
    if reduce == "max":
        return global_max_pool(x, batch, size)
    raise ValueError(f"reduce must be 'sum', 'mean' or 'max', got {reduce!r}")
