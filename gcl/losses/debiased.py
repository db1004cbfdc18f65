"""Debiased contrastive loss (Chuang et al., NeurIPS 2020), with optional hard-negative
reweighting (Robinson et al., ICLR 2021; see :mod:`gcl.losses.hard_negative`).

NT-Xent form: anchor ``a_i``, positive logit ``l_i^+ = s(a_i, c_{p(i)})``, negative logits
``l_ik`` over the K = M - 1 (+ N - 1 with ``intra_view``) negatives, ``s(u, v) = u . v / t``
(cosine when ``normalize``), class prior ``tau_plus``:

    R_i  = sum_k exp((1 + beta) l_ik) / ( (1/K) sum_k exp(beta l_ik) )     (beta = 0: sum_k exp l_ik)
    Ng_i = max( (R_i - tau_plus K exp(l_i^+)) / (1 - tau_plus),  K exp(-1/t) )
    l_i  = -log( exp(l_i^+) / (exp(l_i^+) + Ng_i) )

``beta = 0, tau_plus = 0`` is the plain NT-Xent loss. The floor ``K e^{-1/t}`` is the smallest
possible negative mass for cosine similarities. Everything is evaluated in log space, shifted
by the row maximum, and row-chunked under checkpointing (memory O(chunk x (M + N))).
``symmetric=True`` averages the two directions, i.e. the mean over all 2N anchors of the
original two-view form.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gcl.losses._chunk import checkpointed_rows
from gcl.losses._pairs import pair_logit_blocks
from gcl.losses.temperature import Temperature


def _check(tau_plus: float, beta: float) -> None:
    if not 0 <= tau_plus < 1:
        raise ValueError(f"tau_plus must lie in [0, 1), got {tau_plus}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta}")


def _one_direction(z1: Tensor, z2: Tensor, tau, tau_plus: float, beta: float, pos_index, intra_view: bool,
                   normalize: bool, chunk_size: int | None) -> Tensor:
    block, k, _ = pair_logit_blocks(z1, z2, tau, pos_index=pos_index, intra_view=intra_view,
                                    normalize=normalize, chunk_size=chunk_size)
    log_k = math.log(k)

    def rows(start: int, stop: int) -> Tensor:
        pos, neg = block(start, stop)
        if beta == 0:
            log_r = torch.logsumexp(neg, dim=1)
        else:
            log_r = torch.logsumexp((1 + beta) * neg, dim=1) - torch.logsumexp(beta * neg, dim=1) + log_k
        log_floor = (log_k - 1.0 / tau) * torch.ones_like(pos)
        log_b = pos + math.log(tau_plus * k) if tau_plus > 0 else torch.full_like(pos, float("-inf"))
        shift = torch.stack([pos, log_r, log_floor, log_b]).amax(dim=0).detach()
        ng = (torch.exp(log_r - shift) - torch.exp(log_b - shift)) / (1 - tau_plus)
        ng = torch.clamp(ng, min=torch.exp(log_floor - shift))
        return shift + torch.log(torch.exp(pos - shift) + ng) - pos

    return checkpointed_rows(rows, z1.size(0), chunk_size).mean()


def debiased_info_nce(z1: Tensor, z2: Tensor, tau: float | Tensor = 0.5, *, tau_plus: float = 0.1,
                      beta: float = 0.0, pos_index: Tensor | None = None, intra_view: bool = True,
                      normalize: bool = True, symmetric: bool = False, chunk_size: int | None = None) -> Tensor:
    """Debiased (and, with ``beta > 0``, hard-negative) contrastive loss (see module docstring).

    Args:
        z1: [N, d] anchors.
        z2: [M, d] candidates.
        tau: temperature t.
        tau_plus: class prior, in [0, 1).
        beta: hardness concentration (0: debiased only).
        pos_index: [N] positive candidate rows (default: row alignment).
        intra_view: other anchors are negatives too (the original two-view form).
        normalize: cosine similarity.
        symmetric: average with the z2 -> z1 direction (row-aligned only).
        chunk_size: anchors per block.
    """
    _check(tau_plus, beta)
    args = (tau_plus, beta)
    rest = (intra_view, normalize, chunk_size)
    loss = _one_direction(z1, z2, tau, *args, pos_index, *rest)
    if symmetric:
        if pos_index is not None:
            raise ValueError("symmetric=True needs row-aligned positives (pos_index=None)")
        loss = 0.5 * (loss + _one_direction(z2, z1, tau, *args, None, *rest))
    return loss


class DebiasedContrastiveLoss(nn.Module):
    """Debiased contrastive loss as a module: ``forward(z1, z2, *, pos_index=None)``.

    Args:
        tau: temperature (initial value when ``learn_tau``).
        tau_plus: class prior.
        beta: hardness concentration (0 here; see :class:`HardNegativeContrastiveLoss`).
        intra_view, normalize, symmetric, chunk_size: see :func:`debiased_info_nce`.
        learn_tau: learn ``log tau``.
    """

    def __init__(self, tau: float = 0.5, *, tau_plus: float = 0.1, beta: float = 0.0, intra_view: bool = True,
                 normalize: bool = True, symmetric: bool = True, chunk_size: int | None = None,
                 learn_tau: bool = False):
        super().__init__()
        _check(tau_plus, beta)
        self.temperature = Temperature(tau, learnable=learn_tau)
        self.tau_plus, self.beta = tau_plus, beta
        self.intra_view, self.normalize = intra_view, normalize
        self.symmetric, self.chunk_size = symmetric, chunk_size

    def forward(self, z1: Tensor, z2: Tensor, *, pos_index: Tensor | None = None) -> Tensor:
        return debiased_info_nce(z1, z2, self.temperature(), tau_plus=self.tau_plus, beta=self.beta,
                                 pos_index=pos_index, intra_view=self.intra_view, normalize=self.normalize,
                                 symmetric=self.symmetric, chunk_size=self.chunk_size)

    def extra_repr(self) -> str:
        return f"tau_plus={self.tau_plus}, beta={self.beta}, symmetric={self.symmetric}"
