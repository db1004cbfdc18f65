"""Link-prediction evaluation: ROC-AUC and average precision of positive vs negative edges.

Edges are scored by a decoder of node embeddings, by default the inner product
``s(u, v) = z_u · z_v`` (a monotone link function such as the sigmoid changes neither metric).
With positive scores ``s⁺`` and negative scores ``s⁻``:

* AUC = P(s⁺ > s⁻) + ½ P(s⁺ = s⁻) over all positive/negative pairs (tie-averaged ranks);
* AP  = Σ_k (R_k − R_{k−1}) P_k over the distinct thresholds (scikit-learn's definition; the
  metric of D-SLA's social link-prediction tasks).

Both come from :mod:`gcl.eval.classification` (torch, no scikit-learn), O(E log E).
"""
from __future__ import annotations

import torch
from torch import Tensor

from gcl.eval.classification import average_precision, roc_auc


def dot_product_scores(z: Tensor, edge_index: Tensor) -> Tensor:
    """``s(u, v) = z_u · z_v`` for every column of ``edge_index``.

    Args:
        z: [N, d] node embeddings; edge_index: [2, E] long.

    Returns:
        [E] scores.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    return (z.index_select(0, edge_index[0]) * z.index_select(0, edge_index[1])).sum(-1)


def link_scores(pos_scores: Tensor, neg_scores: Tensor) -> dict[str, float]:
    """AUC and AP of positive against negative edge scores.

    Args:
        pos_scores: [P] scores of true edges; neg_scores: [Q] scores of non-edges (P, Q >= 1).

    Returns:
        ``{'auc': ..., 'ap': ...}``.
    """
    pos, neg = pos_scores.detach().reshape(-1), neg_scores.detach().reshape(-1)
    if pos.numel() == 0 or neg.numel() == 0:
        raise ValueError(f"need at least one positive and one negative score, got {pos.numel()} "
                         f"and {neg.numel()}")
    scores = torch.cat([pos, neg.to(pos.device)]).double()
    labels = torch.zeros(scores.numel(), dtype=torch.bool, device=pos.device)
    labels[: pos.numel()] = True
    return {"auc": float(roc_auc(scores, labels)), "ap": float(average_precision(scores, labels))}


def link_prediction_eval(z: Tensor, pos_edge_index: Tensor, neg_edge_index: Tensor) -> dict[str, float]:
    """:func:`link_scores` of inner-product scores of embeddings ``z`` [N, d] on positive and
    negative edge lists ([2, P], [2, Q])."""
    z = z.detach()
    return link_scores(dot_product_scores(z, pos_edge_index), dot_product_scores(z, neg_edge_index))
