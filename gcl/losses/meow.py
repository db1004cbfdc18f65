"""MEOW's weighted InfoNCE with cluster-disagreement negative weights (Yu & Li, SDM 2023).

M k-means clusterings ``c_m`` of the candidates give the weights
``w_ij = sum_m 1[c_m(i) != c_m(j)]`` in ``{0, ..., M}``: ``w_ii = 0``, and pairs that share every
cluster drop out as probable false negatives. With anchors ``a_i`` (coarse view) and candidates
``f_j`` (fine view), both already L2-normalised by the projection:

    L = -(1/N) sum_i [ a_i . f_i / tau - log sum_j w_ij exp(a_i . f_j / tau) ]

one direction only; the positive is not in the denominator because ``w_ii = 0``. Computed in
log space (``log w``, ``log 0 = -inf``) with row-chunked log-sum-exp: the weights are built per
block from the labels, so memory stays O(chunk x N). An anchor whose every candidate has
weight 0 raises ``ValueError``.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from gcl.losses.infonce import info_nce
from gcl.losses.temperature import check_tau


def _as_label_matrix(labels: Tensor) -> Tensor:
    if labels.dim() == 1:
        labels = labels.unsqueeze(0)
    if labels.dim() != 2 or labels.is_floating_point():
        raise ValueError(f"labels must be [N] or [M, N] integer cluster ids, got "
                         f"{tuple(labels.shape)} {labels.dtype}")
    return labels


def cluster_disagreement_log_weights(labels: Tensor) -> Callable[[int, int], Tensor]:
    """``fn(start, stop) -> log w [stop - start, N]`` with ``w_ij = sum_m 1[c_m(i) != c_m(j)]``.

    Args:
        labels: [M, N] (or [N]) cluster ids of M clusterings.
    """
    labels = _as_label_matrix(labels)

    def log_w(start: int, stop: int) -> Tensor:
        # w accumulated in place in floating point: one [B, N] buffer, no [M, B, N] tensor.
        w = (labels[0, start:stop, None] != labels[0, None, :]).to(torch.get_default_dtype())
        for m in range(1, labels.size(0)):  # a loop over the M clusterings
            w.add_(labels[m, start:stop, None] != labels[m, None, :])
        return w.log_()

    return log_w


def cluster_disagreement_weights(labels: Tensor) -> Tensor:
    """The dense [N, N] weights ``w_ij = sum_m 1[c_m(i) != c_m(j)]``: O(N^2), small N only."""
    labels = _as_label_matrix(labels)
    return (labels[:, :, None] != labels[:, None, :]).sum(dim=0)


def meow_info_nce(anchor: Tensor, candidate: Tensor, labels: Tensor, tau: float | Tensor = 0.5, *,
                  chunk_size: int | None = None) -> Tensor:
    """MEOW's weighted InfoNCE (see the module docstring).

    Args:
        anchor: [N, d] anchors a (coarse view), already L2-normalised (not renormalised here).
        candidate: [N, d] candidates f (fine view), already L2-normalised; ``f_i`` is a_i's positive.
        labels: [M, N] (or [N]) cluster ids of the candidates from M clusterings.
        tau: temperature.
        chunk_size: anchors per block (memory chunk x N).
    """
    labels = _as_label_matrix(labels)
    if anchor.dim() != 2 or labels.size(1) != anchor.size(0):
        raise ValueError(f"labels must have one column per anchor ({anchor.size(0) if anchor.dim() else '?'}), "
                         f"got {tuple(labels.shape)}")
    log_w = cluster_disagreement_log_weights(labels.to(anchor.device))
    provider = lambda start, stop: log_w(start, stop).to(anchor.dtype)  # noqa: E731
    return info_nce(anchor, candidate, tau, intra_view=False, normalize=False, chunk_size=chunk_size,
                    log_weight=provider)


class MEOWInfoNCE(nn.Module):
    """MEOW weighted InfoNCE as a module: ``forward(anchor, candidate, labels)``.

    Args:
        tau: temperature.
        chunk_size: anchors per block.
    """

    def __init__(self, tau: float = 0.5, *, chunk_size: int | None = None):
        super().__init__()
        check_tau(tau)
        self.tau, self.chunk_size = tau, chunk_size

    def forward(self, anchor: Tensor, candidate: Tensor, labels: Tensor) -> Tensor:
        return meow_info_nce(anchor, candidate, labels, self.tau, chunk_size=self.chunk_size)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, chunk_size={self.chunk_size}"
