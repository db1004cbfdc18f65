"""Hard-negative contrastive loss (Robinson et al., "Contrastive Learning with Hard Negative
Samples", ICLR 2021).

Negatives are importance-reweighted towards hard ones with concentration ``beta``: a negative
with logit ``l`` gets weight ``exp(beta l) / mean_k exp(beta l_k)``, and the reweighted mass enters
the debiased estimator with class prior ``tau_plus``:

    R_i  = sum_k exp((1 + beta) l_ik) / ( (1/K) sum_k exp(beta l_ik) )
    Ng_i = max( (R_i - tau_plus K exp(l_i^+)) / (1 - tau_plus),  K exp(-1/t) )
    l_i  = -log( exp(l_i^+) / (exp(l_i^+) + Ng_i) )

It is :func:`gcl.losses.debiased.debiased_info_nce` with ``beta > 0``; ``beta = 0`` gives the
debiased loss and ``beta = tau_plus = 0`` plain NT-Xent.
"""
from __future__ import annotations

from torch import Tensor

from gcl.losses.debiased import DebiasedContrastiveLoss, debiased_info_nce


def hard_negative_info_nce(z1: Tensor, z2: Tensor, tau: float | Tensor = 0.5, *, beta: float = 1.0,
                           tau_plus: float = 0.1, **kwargs) -> Tensor:
    """Hard-negative contrastive loss; keyword arguments as :func:`debiased_info_nce`."""
    return debiased_info_nce(z1, z2, tau, tau_plus=tau_plus, beta=beta, **kwargs)


class HardNegativeContrastiveLoss(DebiasedContrastiveLoss):
    """Hard-negative contrastive loss as a module: ``forward(z1, z2, *, pos_index=None)``.

    Args:
        tau: temperature.
        beta: hardness concentration (> 0 to reweight).
        tau_plus: class prior (0 switches debiasing off).
        **kwargs: ``intra_view``, ``normalize``, ``symmetric``, ``chunk_size``, ``learn_tau``.
    """

    def __init__(self, tau: float = 0.5, *, beta: float = 1.0, tau_plus: float = 0.1, **kwargs):
        super().__init__(tau, tau_plus=tau_plus, beta=beta, **kwargs)
