"""Row-wise log-sum-exp of ``A Cᵀ / τ`` over all candidates, with bounded memory.

For anchors ``A`` [B, d] and candidates ``C`` [N, d]:

    lse_b = log Σ_{j < N} exp(a_b · c_j / τ)

This is the denominator of InfoNCE with all users (or all items) as negatives (LightGCL,
SGL). Two execution paths give the same numbers:

* **saved** (``B·N <= max_saved``): one ``[B, N]`` product, ``torch.logsumexp`` on it, and the
  logits are kept for the backward pass, where they are turned into the softmax in place.
  Three ``B x N x d`` products in all (forward, and two in backward) -- the same work as
  autograd through ``exp().sum()``, but overflow-free and with one ``[B, N]`` buffer.
* **streamed** (larger): the candidates are visited in blocks of ``chunk_size``; block
  log-sum-exps are merged with ``logaddexp``, so only one ``[B, chunk]`` block exists at a
  time; the backward pass recomputes each block from the saved ``lse``.

Backward, with ``p_bj = exp(a_b · c_j / τ − lse_b)`` (the softmax) and incoming gradient ``g_b``:

    ∂L/∂a_b = (g_b / τ) Σ_j p_bj c_j          ∂L/∂c_j = Σ_b p_bj (g_b / τ) a_b

The scale ``1/τ`` and the row weights ``g_b`` are applied to the ``[B, d]`` / ``[B, d]``
factors, never to the ``[B, N]`` block, so each block costs one matrix product in the forward
pass and one ``exp`` plus two products in the backward pass.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

#: default largest ``B·N`` whose logits are kept for the backward pass (2^28 floats = 1 GiB fp32)
DEFAULT_MAX_SAVED = 1 << 28


class _StreamingLSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, anchors: Tensor, candidates: Tensor, scale: float, chunk: int,  # type: ignore[override]
                max_saved: int) -> Tensor:
        a = anchors * scale                                                  # [B, d]
        n = candidates.size(0)
        ctx.logits = None
        ctx.saved = anchors.size(0) * n <= max_saved
        if ctx.saved:
            logits = a @ candidates.T                                        # [B, N]
            lse = torch.logsumexp(logits, dim=1)
            ctx.logits = logits
        else:
            lse = torch.logsumexp(a @ candidates[:chunk].T, dim=1)
            for s in range(chunk, n, chunk):
                lse = torch.logaddexp(lse, torch.logsumexp(a @ candidates[s:s + chunk].T, dim=1))
        ctx.save_for_backward(anchors, candidates, lse)
        ctx.scale, ctx.chunk = scale, chunk
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        anchors, candidates, lse = ctx.saved_tensors
        scale, chunk = ctx.scale, ctx.chunk
        need_a, need_c = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        a = anchors * scale
        ga = a * grad[:, None]                                              # rows of A weighted by g_b / τ
        g_scaled = (grad * scale)[:, None]
        grad_a = torch.zeros_like(anchors) if need_a else None
        grad_c = torch.empty_like(candidates) if need_c else None
        n = candidates.size(0)
        if ctx.saved:
            # the forward logits become the softmax in place; a second backward (retain_graph)
            # recomputes the same full product
            logits = ctx.logits if ctx.logits is not None else a @ candidates.T
            ctx.logits = None
            blocks = [(0, n, logits.sub_(lse[:, None]))]
        else:
            blocks = [(s, min(s + chunk, n), None) for s in range(0, n, chunk)]
        for s, e, block in blocks:
            c = candidates[s:e]
            if block is None:
                block = torch.addmm(-lse[:, None], a, c.T)                   # logits − lse
            p = block.exp_()                                                 # softmax, in place
            if need_a:
                grad_a.add_((p @ c) * g_scaled)
            if need_c:
                grad_c[s:e] = p.T @ ga
        return grad_a, grad_c, None, None, None


def streaming_logsumexp(anchors: Tensor, candidates: Tensor, tau: float = 1.0,
                        chunk_size: int = 4096, *, max_saved: int = DEFAULT_MAX_SAVED) -> Tensor:
    """``log Σ_j exp(a_b · c_j / τ)`` for every anchor row, without overflow (module docstring).

    Equal to ``torch.logsumexp(anchors @ candidates.T / tau, dim=1)`` (values and gradients).
    Peak extra memory is ``B x N`` when ``B·N <= max_saved`` and ``B x chunk_size`` otherwise.

    Args:
        anchors: [B, d].
        candidates: [N, d], N >= 1.
        tau: temperature > 0.
        chunk_size: candidate columns per block of the streamed path (>= 1).
        max_saved: largest ``B·N`` for which the logits are kept for the backward pass
            (0 forces the streamed path).

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
    if max_saved < 0:
        raise ValueError(f"max_saved must be >= 0, got {max_saved}")
    return _StreamingLSE.apply(anchors, candidates, 1.0 / float(tau), int(chunk_size), int(max_saved))


__all__ = ["DEFAULT_MAX_SAVED", "streaming_logsumexp"]
