"""Row-block evaluation under activation checkpointing.

A loss over N anchors whose per-anchor term needs a whole row of an ``N x M`` score matrix is
evaluated block by block: ``fn(start, stop)`` returns the ``stop - start`` per-row values of one
block. With a ``chunk_size`` smaller than N and gradients enabled, each block runs under
non-reentrant activation checkpointing, so the forward pass keeps none of a block's
``chunk x M`` intermediates and the backward pass recomputes them one block at a time: peak
memory is O(chunk_size x M) in both passes, never O(N x M).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint


def check_chunk_size(chunk_size: int | None) -> None:
    """Raise ``ValueError`` unless ``chunk_size`` is ``None`` or a positive integer."""
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) != chunk_size
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")


def row_blocks(n: int, chunk_size: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in blocks of ``chunk_size`` rows
    (one block when ``chunk_size`` is ``None``)."""
    check_chunk_size(chunk_size)
    step = n if chunk_size is None else int(chunk_size)
    step = max(step, 1)
    return [(s, min(s + step, n)) for s in range(0, n, step)]


def checkpointed_rows(fn: Callable[[int, int], Tensor], n: int, chunk_size: int | None) -> Tensor:
    """Concatenate ``fn(start, stop)`` over the row blocks of ``range(n)``.

    Args:
        fn: maps a block ``[start, stop)`` to a tensor whose first dimension is ``stop - start``;
            it must be deterministic (it runs again in the backward pass). Tensors it reads from
            its closure receive gradients as usual.
        n: number of rows.
        chunk_size: rows per block; ``None`` is one block without checkpointing.

    Returns:
        ``[n, ...]``, the blocks' outputs in row order.
    """
    blocks = row_blocks(n, chunk_size)
    use_ckpt = len(blocks) > 1 and torch.is_grad_enabled()
    parts = []
    for start, stop in blocks:  # a loop over blocks, not over rows
        if use_ckpt:
            parts.append(checkpoint(fn, start, stop, use_reentrant=False, preserve_rng_state=False))
        else:
            parts.append(fn(start, stop))
    return parts[0] if len(parts) == 1 else torch.cat(parts)
