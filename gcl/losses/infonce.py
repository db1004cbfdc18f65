"""InfoNCE / NT-Xent with row-chunked log-sum-exp (memory O(chunk_size x N), never N x N).

For anchors ``a_i`` (rows of ``z1``) and candidates ``c_j`` (rows of ``z2``), with
``s(u, v) = u . v / tau`` (cosine when ``normalize``) and positive ``c_{p(i)}``:

    l_i = -s(a_i, c_{p(i)}) + log( sum_j w_ij exp s(a_i, c_j) + [intra] sum_{j != i} exp s(a_i, a_j) )

``p(i) = i`` (row alignment) unless ``pos_index`` is given. The optional per-pair weights
``w_ij >= 0`` (default 1) act on the candidates, positive included; they are taken in log space,
``log w_ij`` added to the logits (``log 0 = -inf`` removes a pair). With ``symmetric=True`` the loss
is the mean of the two directions (GRACE): ``(mean_i l_i(z1, z2) + mean_i l_i(z2, z1)) / 2``.

Each block of ``chunk_size`` anchors is computed under activation checkpointing, so neither
the forward nor the backward pass holds more than one ``chunk_size x N`` block of scores.
Weights given by a callable are produced block by block inside the checkpoint, so they never
exist as an N x M matrix either.

With ``gather_distributed=True`` (under an initialised ``torch.distributed`` group) the
candidates (and, for intra-view negatives, the anchors) of every rank are gathered, so each
local anchor is contrasted with the global set; the loss is the mean over the local anchors and
gradients reach the local shards through the gather (see :mod:`gcl.losses.distributed`).
"""
from __future__ import annotations

from typing import Callable, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.losses._chunk import check_chunk_size, checkpointed_rows
from gcl.losses.distributed import gather_rows
from gcl.losses.temperature import Temperature, check_tau

#: Per-pair weights: a dense ``[N, M]`` tensor, or ``fn(start, stop) -> [stop - start, M]``.
PairWeights = Union[Tensor, Callable[[int, int], Tensor]]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_row: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_row.sum() / per_row.numel()
    if reduction == "sum":
        return per_row.sum()
    return per_row


def _log_weight_provider(weight: PairWeights | None, log_weight: PairWeights | None, n: int,
                         m: int) -> Callable[[int, int], Tensor] | None:
    """Turn the ``weight`` / ``log_weight`` argument into ``fn(start, stop) -> log w [B, M]``."""
    if weight is not None and log_weight is not None:
        raise ValueError("give either weight or log_weight, not both")
    given, is_log = (log_weight, True) if log_weight is not None else (weight, False)
    if given is None:
        return None
    name = "log_weight" if is_log else "weight"
    if isinstance(given, Tensor):
        if given.shape != (n, m):
            raise ValueError(f"{name} must have shape [{n}, {m}] (anchors x candidates), "
                             f"got {tuple(given.shape)}")
        source: Callable[[int, int], Tensor] = lambda start, stop: given[start:stop]  # noqa: E731
    elif callable(given):
        source = given
    else:
        raise ValueError(f"{name} must be a tensor or a callable (start, stop) -> tensor, "
                         f"got {type(given).__name__}")

    def provider(start: int, stop: int) -> Tensor:
        block = source(start, stop)
        if not isinstance(block, Tensor) or block.shape != (stop - start, m):
            got = tuple(block.shape) if isinstance(block, Tensor) else type(block).__name__
            raise ValueError(f"{name} block for rows {start}:{stop} must have shape "
                             f"[{stop - start}, {m}], got {got}")
        return block if is_log else torch.log(block)

    return provider


def info_nce(
    z1: Tensor,
    z2: Tensor,
    tau: float | Tensor = 0.5,
    *,
    pos_index: Tensor | None = None,
    intra_view: bool = True,
    normalize: bool = True,
    chunk_size: int | None = None,
    weight: PairWeights | None = None,
    log_weight: PairWeights | None = None,
    gather_distributed: bool = False,
    group=None,
    reduction: str = "mean",
) -> Tensor:
    """One-directional InfoNCE, mean over anchors (see the module docstring).

    Args:
        z1: [N, d] anchors.
        z2: [M, d] candidates (M = N unless ``pos_index`` is given).
        tau: temperature > 0, a float or a scalar tensor (e.g. a learnable ``exp(log_tau)``).
        pos_index: [N] long, the candidate row that is each anchor's positive (with
            ``gather_distributed``: a row of the local ``z2``).
        intra_view: also use the other anchors (z1 rows, self excluded) as negatives.
        normalize: L2-normalise rows first (cosine similarity).
        chunk_size: anchors per block; ``None`` processes all rows in one block.
        weight: per-pair weights ``w_ij >= 0`` over the candidates, either a dense [N, M] tensor
            (O(N M) memory: small N only) or a callable ``fn(start, stop)`` returning the
            [stop - start, M] block of weights for anchors ``start:stop`` (memory stays
            chunk x M). Zeros remove pairs; they are not differentiable there, so learned
            weights should come as ``log_weight``.
        log_weight: the same, as ``log w_ij`` (``-inf`` removes a pair). The positive's own
            weight ``w_{i p(i)}`` applies in the denominator only, the numerator stays
            ``exp s(a_i, c_{p(i)})``. A callable must be deterministic (checkpointing calls
            it again in the backward pass); tensors it reads receive gradients.
            Columns index the gathered candidates when ``gather_distributed``.
        gather_distributed: contrast against the candidates of all ranks (see module doc).
        group: the process group for ``gather_distributed`` (``None``: default group).
        reduction: ``"mean"`` over anchors, ``"sum"``, or ``"none"`` (the [N] values l_i).

    Returns:
        scalar loss (or [N] with ``reduction="none"``).

    Raises:
        ValueError: bad shapes or arguments; with weights, an anchor whose denominator has no
            pair left (all weights zero, no intra-view term).
    """
    check_tau(tau)
    check_chunk_size(chunk_size)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if z1.dim() != 2 or z2.dim() != 2 or z1.size(1) != z2.size(1):
        raise ValueError(f"z1 and z2 must be [N, d] and [M, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.size(0)
    if pos_index is None:
        if z2.size(0) != n:
            raise ValueError(f"row-aligned positives need z1 and z2 of equal length, got {n} and {z2.size(0)}")
        pos_index = torch.arange(n, device=z1.device)
    elif pos_index.shape != (n,):
        raise ValueError(f"pos_index must have shape [{n}], got {tuple(pos_index.shape)}")
    weighted = weight is not None or log_weight is not None
    if weighted and intra_view:
        raise ValueError("weight/log_weight act on the z2 candidates only; set intra_view=False")
    if normalize:
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    cand, anchors, cand_off, anchor_off = z2, z1, 0, 0
    if gather_distributed:
        cand, cand_off = gather_rows(z2, group)
        if intra_view:
            anchors, anchor_off = gather_rows(z1, group)
    pos_index = pos_index + cand_off
    log_w = _log_weight_provider(weight, log_weight, n, cand.size(0))

    def block(start: int, stop: int) -> Tensor:
        a = z1[start:stop] / tau                                             # [B, d]
        rows = torch.arange(stop - start, device=a.device)
        inter = a @ cand.T                                                   # [B, M]
        pos_logit = inter[rows, pos_index[start:stop]]
        if log_w is not None:
            lse = torch.logsumexp(inter + log_w(start, stop), dim=1)
            empty = torch.isneginf(lse)
            if bool(empty.any()):
                row = start + int(empty.nonzero()[0])
                raise ValueError(f"weights leave anchor row {row} with no candidate in its "
                                 f"denominator (all weights are zero)")
        else:
            lse = torch.logsumexp(inter, dim=1)
        if intra_view:
            intra = a @ anchors.T                                            # [B, N]
            self_col = rows + (anchor_off + start)
            intra = intra.index_put((rows, self_col), intra.new_tensor(float("-inf")))
            lse = torch.logaddexp(lse, torch.logsumexp(intra, dim=1))
        return lse - pos_logit

    return _reduce(checkpointed_rows(block, n, chunk_size), reduction)


def _lse_without_diagonal(s: Tensor) -> Tensor:
    """Row-wise log-sum-exp of a square matrix with its diagonal excluded."""
    return torch.logsumexp(s.diagonal_scatter(s.new_full((s.size(0),), float("-inf"))), dim=1)


def symmetric_info_nce(z1: Tensor, z2: Tensor, tau: float | Tensor = 0.5, *, intra_view: bool = True,
                       normalize: bool = True) -> Tensor:
    """``(info_nce(z1, z2) + info_nce(z2, z1)) / 2`` for row-aligned positives, unchunked.

    Both directions share the cross-view scores ``S12 = z1 z2^T / tau`` (direction 2 reads its
    columns), so three N x N products are computed instead of four. Memory is O(N^2): use
    :func:`info_nce` with ``chunk_size`` for large N.

    Args:
        z1, z2: [N, d] row-aligned views.
        tau: temperature > 0 (float or scalar tensor).
    """
    check_tau(tau)
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be [N, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if normalize:
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    s12 = z1 @ z2.T / tau
    pos = s12.diagonal()
    lse1, lse2 = torch.logsumexp(s12, dim=1), torch.logsumexp(s12, dim=0)
    if intra_view:
        lse1 = torch.logaddexp(lse1, _lse_without_diagonal(z1 @ z1.T / tau))
        lse2 = torch.logaddexp(lse2, _lse_without_diagonal(z2 @ z2.T / tau))
    return 0.5 * ((lse1 - pos).mean() + (lse2 - pos).mean())


class InfoNCE(nn.Module):
    """InfoNCE / NT-Xent as a module (see :func:`info_nce`).

    Args:
        tau: temperature (the initial value when ``learn_tau``).
        symmetric: average both directions (z1 -> z2 and z2 -> z1).
        intra_view: use same-view negatives too (GRACE, NT-Xent).
        normalize: cosine similarity.
        chunk_size: anchors per block; bounds memory by ``chunk_size x N``.
        learn_tau: learn ``log tau`` as an ``nn.Parameter`` (``self.temperature.log_tau``).
        gather_distributed: contrast against the candidates of all ranks.

    ``forward(z1, z2, *, pos_index=None, weight=None, log_weight=None)``: ``pos_index`` and the
    weights are one-directional, so they need ``symmetric=False``.
    """

    def __init__(self, tau: float = 0.5, *, symmetric: bool = True, intra_view: bool = True,
                 normalize: bool = True, chunk_size: int | None = None, learn_tau: bool = False,
                 gather_distributed: bool = False):
        super().__init__()
        check_chunk_size(chunk_size)
        self.temperature = Temperature(tau, learnable=learn_tau)
        self.symmetric, self.intra_view = symmetric, intra_view
        self.normalize, self.chunk_size = normalize, chunk_size
        self.gather_distributed = gather_distributed

    @property
    def tau(self) -> float:
        """The current temperature as a float."""
        return self.temperature.value

    def forward(self, z1: Tensor, z2: Tensor, *, pos_index: Tensor | None = None,
                weight: PairWeights | None = None, log_weight: PairWeights | None = None) -> Tensor:
        tau = self.temperature()
        one_way = pos_index is not None or weight is not None or log_weight is not None
        if self.symmetric and one_way:
            raise ValueError("pos_index and weights are one-directional: use symmetric=False")
        if self.symmetric and self.chunk_size is None and not self.gather_distributed:
            return symmetric_info_nce(z1, z2, tau, intra_view=self.intra_view, normalize=self.normalize)
        kw = dict(intra_view=self.intra_view, normalize=self.normalize, chunk_size=self.chunk_size,
                  gather_distributed=self.gather_distributed)
        loss = info_nce(z1, z2, tau, pos_index=pos_index, weight=weight, log_weight=log_weight, **kw)
        if self.symmetric:
            loss = 0.5 * (loss + info_nce(z2, z1, tau, **kw))
        return loss

    def extra_repr(self) -> str:
        return (f"tau={self.tau:.4g}, symmetric={self.symmetric}, intra_view={self.intra_view}, "
                f"chunk_size={self.chunk_size}, learn_tau={self.temperature.learnable}, "
                f"gather_distributed={self.gather_distributed}")
