"""Row-wise log-sum-exp of ``A Cᵀ / τ`` streamed over column blocks (memory O(B x chunk)).

For anchors ``A`` [B, d] and candidates ``C`` [N, d]:

    lse_b = log Σ_{j < N} exp(a_b · c_j / τ)

Forward: the columns are visited in blocks of ``chunk_size`` with a running maximum and a
running rescaled sum (the online log-sum-exp), so no ``exp`` of a raw logit can overflow and
only one ``[B, chunk]`` block of logits exists at a time. Backward: with ``p_bj =
exp(a_b · c_j / τ − lse_b)`` (the softmax) and the incoming gradient ``g_b``,

    ∂L/∂a_b = Σ_j g_b p_bj c_j / τ          ∂L/∂c_j = Σ_b g_b p_bj a_b / τ

recomputed block by block from the saved ``lse``, so the backward pass also holds one block.
This is the denominator of InfoNCE with all users (or all items) as negatives (LightGCL, SGL)
without the ``B x N`` score matrix that autograd would otherwise keep.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def _blocks(n: int, chunk: int) -> range:
    return range(0, n, chunk)


class _StreamingLSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, anchors: Tensor, candidates: Tensor, scale: float, chunk: int) -> Tensor:  # type: ignore[override]
        b = anchors.size(0)
        run_max = anchors.new_full((b,), float("-inf"))
        run_sum = anchors.new_zeros((b,))
        for s in _blocks(candidates.size(0), chunk):
            logits = (anchors @ candidates[s:s + chunk].T) * scale          # [B, chunk]
            blk_max = logits.amax(dim=1)
            new_max = torch.maximum(run_max, blk_max)
            safe = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
            run_sum = run_sum * torch.exp(run_max - safe) + torch.exp(logits - safe[:, None]).sum(1)
            run_max = new_max
        safe = torch.where(torch.isfinite(run_max), run_max, torch.zeros_like(run_max))
        lse = torch.log(run_sum) + safe
        ctx.save_for_backward(anchors, candidates, lse)
        ctx.scale, ctx.chunk = scale, chunk
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        anchors, candidates, lse = ctx.saved_tensors
        scale, chunk = ctx.scale, ctx.chunk
        need_a, need_c = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_a = torch.zeros_like(anchors) if need_a else None
        grad_c = torch.empty_like(candidates) if need_c else None
        g = grad * scale
        for s in _blocks(candidates.size(0), chunk):
            c = candidates[s:s + chunk]
            p = torch.exp((anchors @ c.T) * scale - lse[:, None]) * g[:, None]   # [B, chunk]
            if need_a:
                grad_a.add_(p @ c)
            if need_c:
                grad_c[s:s + chunk] = p.T @ anchors
        return grad_a, grad_c, None, None


def streaming_logsumexp(anchors: Tensor, candidates: Tensor, tau: float = 1.0,
                        chunk_size: int = 4096) -> Tensor:
    """``log Σ_j exp(a_b · c_j / τ)`` for every anchor row, streamed over candidate blocks.

    Equal to ``torch.logsumexp(anchors @ candidates.T / tau, dim=1)`` (values and gradients)
    with peak memory ``B x chunk_size`` instead of ``B x N`` in both passes.

    Args:
        anchors: [B, d].
        candidates: [N, d], N >= 1.
        tau: temperature > 0.
        chunk_size: candidate columns per block (>= 1).

    Returns:
        [B].
    """
    if anchors.dim() != 2 or candidates.dim() != 2 or anchors.size(1) != candidates.size(1):
        raise ValueError(f"anchors and candidates must be [B, d] and [N, d], got "
                         f"{tuple(anchors.shape)} and {tuple(candidates.shape)}")
    if candidates.size(0) == 0:
        raise ValueError("candidates must hold at least one row")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return _StreamingLSE.apply(anchors, candidates, 1.0 / float(tau), int(chunk_size))


__all__ = ["streaming_logsumexp"]
