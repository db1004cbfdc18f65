"""InfoNCE between two embedding tables of the same nodes, anchors indexed by a batch.

Used by the recommendation methods (SGL, LightGCL): the anchors are rows ``idx`` of one view
``A`` (the batch users or items, duplicates kept), the candidates are rows of another view
``C`` of the same node set, and anchor ``b``'s positive is ``C[idx_b]``:

    ℓ_b = LSE_{j ∈ N_b}(a_b · c_j / τ) − clip(a_b · c_{idx_b} / τ, −m, m)

where the denominator set ``N_b`` always contains the positive (unclipped) and the clip is
applied only when ``pos_clip = m`` is given (LightGCL's official ±5). The loss is the mean of
``ℓ_b``. Three choices of ``N_b``:

* ``"all"``: every node (the official SGL and LightGCL setting), through
  :func:`gcl.losses.streaming_lse.streaming_logsumexp` (overflow-free; memory bounded by a
  chunk size for large batches). The denominator is computed once per distinct anchor node
  and gathered back to the duplicates, which gives the same loss and gradient.
* ``"sampled"``: one uniform sample ``S`` of ``num_negatives`` distinct nodes, shared by the
  batch, plus the anchor's own positive (a sampled copy of the positive is removed, so it is
  counted once). A scaled setting for CPUs; not a paper setting.
* ``"in_batch"``: the distinct nodes of the batch (``unique(idx)``), which contain every
  anchor's positive. Cheapest; also not a paper setting.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gcl.losses.streaming_lse import streaming_logsumexp

NEGATIVES = ("all", "sampled", "in_batch")


def check_negatives(negatives: str, num_negatives: int) -> None:
    """Raise ``ValueError`` for an unknown negatives mode or a non-positive sample size."""
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
    if negatives == "sampled" and num_negatives < 1:
        raise ValueError(f"num_negatives must be >= 1 for sampled negatives, got {num_negatives}")


def node_contrast(
    anchors: Tensor,
    candidates: Tensor,
    idx: Tensor,
    tau: float,
    *,
    negatives: str = "all",
    num_negatives: int = 4096,
    pos_clip: float | None = None,
    chunk_size: int = 4096,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean InfoNCE of anchors ``anchors[idx]`` against ``candidates`` (module docstring).

    Args:
        anchors: [N, d] anchor view (all nodes); only the rows ``idx`` are used.
        candidates: [N, d] candidate view of the same N nodes.
        idx: [B] long node ids of the anchors (duplicates allowed); positives are
            ``candidates[idx]``.
        tau: temperature > 0.
        negatives: ``"all"``, ``"sampled"`` or ``"in_batch"``.
        num_negatives: size of the shared sample for ``"sampled"`` (capped at N).
        pos_clip: clip the numerator's logit to ``[-pos_clip, pos_clip]`` (``None``: no clip).
        chunk_size: candidate columns per block of the streamed log-sum-exp.
        generator: draws the sample for ``"sampled"``.

    Returns:
        scalar loss.
    """
    check_negatives(negatives, num_negatives)
    if anchors.shape != candidates.shape or anchors.dim() != 2:
        raise ValueError(f"anchors and candidates must both be [N, d], got {tuple(anchors.shape)} "
                         f"and {tuple(candidates.shape)}")
    if idx.dim() != 1 or idx.numel() == 0:
        raise ValueError("idx must be a non-empty 1-D tensor of node ids")
    a = anchors.index_select(0, idx)                                      # [B, d]
    pos = (a * candidates.index_select(0, idx)).sum(1) / tau             # [B]
    n = candidates.size(0)
    if negatives in ("all", "in_batch"):
        # The denominator of a repeated anchor is the same row: compute it once per distinct
        # node and gather back (same value and gradient as computing every duplicate).
        uniq, inverse = torch.unique(idx, return_inverse=True)
        pool = candidates if negatives == "all" else candidates.index_select(0, uniq)
        lse = streaming_logsumexp(anchors.index_select(0, uniq), pool, tau, chunk_size)[inverse]
    else:
        k = min(int(num_negatives), n)
        gdev = generator.device if generator is not None else idx.device
        sample = torch.randperm(n, generator=generator, device=gdev)[:k].to(idx.device)
        logits = (a / tau) @ candidates.index_select(0, sample).T        # [B, k]
        logits = logits.masked_fill(sample[None, :] == idx[:, None], float("-inf"))
        lse = torch.logaddexp(torch.logsumexp(logits, dim=1), pos)
    numer = pos if pos_clip is None else pos.clamp(-pos_clip, pos_clip)
    return (lse - numer).mean()


__all__ = ["NEGATIVES", "check_negatives", "node_contrast"]
