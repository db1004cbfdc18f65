"""Gather rows from every rank of a ``torch.distributed`` group, with gradients.

``gather_rows(x)`` returns ``cat([x_rank0, x_rank1, ...])`` (rank order, shards may differ in
length) and the offset of the local shard in it. In the backward pass the local shard receives
the sum over ranks of the gradients flowing into its copy: if rank r computes a loss L_r on the
gathered tensor, the local x gets ``sum_r dL_r/dx``. Under DDP, which averages parameter
gradients over the W ranks, the step is then the gradient of ``(1/W) sum_r L_r``.

It uses ``torch.distributed.nn.functional.all_gather`` where that exists (its backward is a
reduce-scatter, emulated with all-to-all on backends without one) and otherwise a small
autograd function whose backward all-reduces the full gradient and keeps the local slice.
Without an initialised process group (or with one rank) it returns ``x`` and offset 0.
"""
from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
from torch import Tensor

try:  # pragma: no cover - availability depends on the torch build
    from torch.distributed.nn.functional import all_gather as _torch_all_gather
except ImportError:  # pragma: no cover
    _torch_all_gather = None


class _AllGatherSum(torch.autograd.Function):
    """Forward: all-gather equal-length shards. Backward: all-reduce (sum), keep the local slice."""

    @staticmethod
    def forward(ctx, x: Tensor, group) -> tuple[Tensor, ...]:  # type: ignore[override]
        ctx.group = group
        out = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
        dist.all_gather(out, x.contiguous(), group=group)
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        full = torch.stack([g.contiguous() for g in grads])
        dist.all_reduce(full, op=dist.ReduceOp.SUM, group=ctx.group)
        return full[dist.get_rank(ctx.group)], None


def is_distributed(group=None) -> bool:
    """True when a process group with more than one rank is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def gather_rows(x: Tensor, group=None, *, impl: str = "auto") -> tuple[Tensor, int]:
    """All-gather ``x`` ([n_r, ...] on rank r) along dim 0, differentiably.

    Args:
        x: the local shard; its row count may differ between ranks.
        group: process group (``None``: the default group).
        impl: ``"auto"`` (torch's autograd all_gather when available), ``"torch"`` or ``"own"``.

    Returns:
        ``(gathered [sum_r n_r, ...], offset)`` where ``gathered[offset : offset + n_local]`` is x.
    """
    if impl not in ("auto", "torch", "own"):
        raise ValueError(f"impl must be 'auto', 'torch' or 'own', got {impl!r}")
    if not is_distributed(group):
        return x, 0
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    size = torch.tensor([x.size(0)], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    counts = [int(s) for s in sizes]
    longest = max(counts)
    padded = x
    if x.size(0) < longest:  # collectives need equal shapes: pad, then cut the padding off
        padded = torch.cat([x, x.new_zeros((longest - x.size(0),) + tuple(x.shape[1:]))])
    use_torch = impl == "torch" or (impl == "auto" and _torch_all_gather is not None)
    if use_torch:
        if _torch_all_gather is None:
            raise RuntimeError("torch.distributed.nn.functional.all_gather is not available")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecated in recent torch, still exact
            parts = _torch_all_gather(padded, group=dist.group.WORLD if group is None else group)
    else:
        parts = _AllGatherSum.apply(padded, group)
    gathered = torch.cat([p[:c] for p, c in zip(parts, counts)])
    return gathered, sum(counts[:rank])
