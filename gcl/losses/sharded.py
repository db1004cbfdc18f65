"""A full-batch InfoNCE split over ranks by anchors, equal to the single-process loss.

Every rank holds the same ``[N, d]`` embeddings ``z1``, ``z2`` (the same graph, the same
views) and a disjoint share ``A_r`` of the anchor rows, the shares covering all N rows
(:func:`gcl.train.distributed.shard` with ``mode="split"``). Rank r computes

    L_r = W / (2N) * sum_{i in A_r} [ l(z1_i; z2, z1) + l(z2_i; z1, z2) ]

(``l`` as in :func:`gcl.losses.info_nce`; one direction and ``W / N`` when not symmetric),
where the candidates and intra-view negatives of its anchors are the rows of *every* rank,
all-gathered with gradients (:func:`gcl.losses.distributed.gather_rows`). The mean over the W
ranks is the full loss ``1/(2N) sum_i [...]`` and, since DDP averages parameter gradients
over ranks and the gather returns to each rank the gradients that all ranks' losses put on its
rows, the averaged gradient is the gradient of the full loss. Only the order of floating-point
sums differs from one process (candidates come in shard order), so results agree to round-off.

The gather also serves ranks whose rows differ (mini-batches): then ``z1``/``z2`` are local
and ``anchors`` selects all of them.
"""
from __future__ import annotations

import torch.distributed as dist
from torch import Tensor

from gcl.losses.distributed import is_distributed
from gcl.losses.infonce import InfoNCE, info_nce


def sharded_info_nce(criterion: InfoNCE, z1: Tensor, z2: Tensor, anchors: Tensor, *,
                     group=None) -> Tensor:
    """This rank's share of ``criterion(z1, z2)``, negatives gathered from every rank.

    Args:
        criterion: the loss whose settings are used (temperature, ``symmetric``,
            ``intra_view``, ``normalize``, ``chunk_size``).
        z1, z2: [N, d] row-aligned views, the same on every rank.
        anchors: [N_r] long, this rank's anchor rows; the ranks' anchors must partition
            ``0..N-1`` for the mean over ranks to be the full loss.
        group: process group (``None``: the default one).

    Returns:
        scalar ``L_r`` (see the module docstring): ``W / N`` times the sum of this rank's
        anchor terms (halved for the symmetric loss). Without a process group and with all
        rows as anchors it is ``criterion(z1, z2)`` up to round-off.

    Raises:
        ValueError: ``z1``/``z2`` not of equal shape ``[N, d]``, or ``anchors`` not 1-D.
    """
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must both be [N, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if anchors.dim() != 1:
        raise ValueError(f"anchors must be a 1-D index tensor, got shape {tuple(anchors.shape)}")
    tau = criterion.temperature()
    kw = dict(intra_view=criterion.intra_view, normalize=criterion.normalize,
              chunk_size=criterion.chunk_size, gather_distributed=True, group=group,
              reduction="sum")
    a1, a2 = z1[anchors], z2[anchors]
    total = info_nce(a1, a2, tau, **kw)
    directions = 1
    if criterion.symmetric:
        total = total + info_nce(a2, a1, tau, **kw)
        directions = 2
    world = dist.get_world_size(group) if is_distributed(group) else 1
    return total * (world / (directions * z1.size(0)))


__all__ = ["sharded_info_nce"]
