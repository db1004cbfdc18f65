"""ProtoNCE with per-cluster concentrations, as MEOW uses it (after PCL, Li et al. 2021).

For M clusterings with L2-normalised centroids ``ĉ_{m,k}``, concentrations ``phi_{m,k}`` and
labels ``c_m(i)``:

    L = (1/M) sum_m (1/N) sum_i [ -a_i . ĉ_{m,c_m(i)} / phi_{m,c_m(i)}
                                  + log sum_k exp(a_i . ĉ_{m,k} / phi_{m,k}) ]

(a cross-entropy per clustering over ``N x K_m`` logits). The original adds the constant
``log(N / K_m)``, which has no gradient; it is left out.

:func:`prototype_concentration` gives MEOW's ``phi``: ``phi_k = mean_{i in k} sqrt(D_i) /
log(n_k + alpha)`` with ``D_i = max(f_i . mu_k, 0)`` (inner product with the unnormalised
centroid), clusters with ``n_k <= 1`` set to the largest phi, clipped to the [10th, 90th]
percentiles and rescaled to mean ``tau``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def prototype_concentration(features: Tensor, labels: Tensor, centroids: Tensor, tau: float, *,
                            alpha: float = 5.0, clip: tuple[float, float] = (10.0, 90.0)) -> Tensor:
    """MEOW's per-cluster concentration phi [K] (see the module docstring); no gradient.

    Args:
        features: [N, d] the clustered (detached) embeddings f.
        labels: [N] cluster ids in ``[0, K)``.
        centroids: [K, d] unnormalised centroids mu.
        tau: the mean that phi is rescaled to.
        alpha: the smoothing in ``log(n_k + alpha)``.
        clip: lower and upper percentiles.
    """
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    k = centroids.size(0)
    if labels.shape != (features.size(0),):
        raise ValueError(f"labels must have shape [{features.size(0)}], got {tuple(labels.shape)}")
    with torch.no_grad():
        d = (features * centroids[labels]).sum(dim=1).clamp_min(0).sqrt()
        counts = torch.bincount(labels, minlength=k).to(features.dtype)
        sums = features.new_zeros(k).index_add(0, labels, d)
        phi = sums / counts.clamp_min(1) / torch.log(counts + alpha)
        big = counts > 1
        fill = phi[big].max() if bool(big.any()) else phi.new_tensor(1.0)
        phi = torch.where(big, phi, fill)
        lo, hi = torch.quantile(phi, torch.tensor([clip[0] / 100, clip[1] / 100], dtype=phi.dtype,
                                                  device=phi.device))
        phi = phi.clamp(lo, hi)
        return tau * phi / phi.mean()


def proto_nce(anchor: Tensor, centroids: Sequence[Tensor], concentrations: Sequence[Tensor],
              labels: Sequence[Tensor] | Tensor, *, normalize_centroids: bool = True) -> Tensor:
    """ProtoNCE averaged over clusterings (see the module docstring).

    Args:
        anchor: [N, d] anchors a.
        centroids: M tensors [K_m, d].
        concentrations: M tensors [K_m] (phi).
        labels: M tensors [N] (or an [M, N] tensor) of cluster ids.
        normalize_centroids: L2-normalise the centroids first (ĉ).
    """
    labels = list(labels)
    if not (len(centroids) == len(concentrations) == len(labels)) or not labels:
        raise ValueError(f"centroids, concentrations and labels must have the same non-zero length, "
                         f"got {len(centroids)}, {len(concentrations)}, {len(labels)}")
    total = anchor.new_zeros(())
    for mu, phi, lab in zip(centroids, concentrations, labels):  # a loop over the M clusterings
        if mu.dim() != 2 or phi.shape != (mu.size(0),) or lab.shape != (anchor.size(0),):
            raise ValueError(f"clustering shapes must be [K, d], [K], [N]; got {tuple(mu.shape)}, "
                             f"{tuple(phi.shape)}, {tuple(lab.shape)}")
        c = F.normalize(mu, dim=1) if normalize_centroids else mu
        logits = (anchor @ c.T.to(anchor.dtype)) / phi.to(anchor.dtype)
        total = total + F.cross_entropy(logits, lab)
    return total / len(labels)


class ProtoNCE(nn.Module):
    """ProtoNCE as a module: ``forward(anchor, centroids, concentrations, labels)``."""

    def __init__(self, *, normalize_centroids: bool = True):
        super().__init__()
        self.normalize_centroids = normalize_centroids

    def forward(self, anchor: Tensor, centroids: Sequence[Tensor], concentrations: Sequence[Tensor],
                labels: Sequence[Tensor] | Tensor) -> Tensor:
        return proto_nce(anchor, centroids, concentrations, labels,
                         normalize_centroids=self.normalize_centroids)
