"""PamC: the meta-node approximated neighbourhood contrastive loss (Kulatilleke et al., 2022).

With ``s_ij = cos(z_i, z_j)`` (``s_ii := 0``), a sparse positive operator ``A`` (the cumulative
influence sum ``sum_{t=1..r} Ã^t``), a hard assignment ``a_i`` of nodes to K clusters and the
meta-nodes ``c_k = sum_{i: a_i = k} z_i`` of the K'' non-empty clusters:

    pos_i = sum_{j: A_ij != 0} A_ij exp(tau s_ij)
    neg_k = sum_{l} exp(tau ŝ_kl),   ŝ_kl = cos(c_k, c_l), ŝ_kk := 0
    L     = -(1/N) sum_i log(pos_i + 1e-10) + (1/K'') sum_k log(neg_k + 1e-10)

``tau`` multiplies the cosine (an inverse temperature, named as in the original). One meta-node
pair stands for a whole cluster block, since ``sum_{i in a, j in b} z_i . z_j = c_a . c_b``.
Cost: O(nnz(A) d + N d + K''^2 d) time and memory; the dense loss it approximates is
:func:`gcl.losses.scgc.scgc_star_loss`.

Cosines use ``u / max(||u||, eps)``, so zero embeddings and zero meta-nodes give cosine 0 and
finite gradients. Empty clusters are dropped (``drop_empty=True``); fewer than two non-empty
clusters raise :class:`EmptyClusterError`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.losses._sparse import SparseOperator, normalized_positive_sums
from gcl.losses.temperature import check_tau


class EmptyClusterError(ValueError):
    """Raised when fewer than two non-empty clusters are left for the meta-node partition."""


def meta_nodes(z: Tensor, assignment: Tensor, num_clusters: int | None = None, *,
               drop_empty: bool = True) -> tuple[Tensor, Tensor]:
    """Meta-node embeddings ``c_k = sum_{i: a_i = k} z_i`` (hard) or ``C = Q^T Z`` (soft).

    Args:
        z: [N, d] node embeddings (gradients flow through the sums).
        assignment: [N] long cluster ids in ``[0, K)`` (hard), or [N, K] float soft
            assignment Q (the "soft" ablation).
        num_clusters: K; defaults to ``max id + 1`` (hard) or ``Q.size(1)`` (soft).
        drop_empty: keep only clusters with at least one member (positive mass when soft).

    Returns:
        ``(C [K'', d], cluster_ids [K''])``: the kept meta-nodes and their cluster ids.
    """
    if z.dim() != 2:
        raise ValueError(f"z must be [N, d], got {tuple(z.shape)}")
    n = z.size(0)
    if assignment.dim() == 1 and not assignment.is_floating_point():
        if assignment.shape != (n,):
            raise ValueError(f"assignment must have shape [{n}], got {tuple(assignment.shape)}")
        k = int(assignment.max()) + 1 if num_clusters is None else int(num_clusters)
        if n and (int(assignment.min()) < 0 or int(assignment.max()) >= k):
            raise ValueError(f"assignment ids must lie in [0, {k}) (num_clusters={k})")
        centres = z.new_zeros(k, z.size(1)).index_add(0, assignment, z)
        mass = torch.bincount(assignment, minlength=k)
    elif assignment.dim() == 2 and assignment.is_floating_point():
        if assignment.size(0) != n:
            raise ValueError(f"soft assignment must be [{n}, K], got {tuple(assignment.shape)}")
        if num_clusters is not None and assignment.size(1) != num_clusters:
            raise ValueError(f"soft assignment has {assignment.size(1)} columns, num_clusters={num_clusters}")
        centres = assignment.T.to(z.dtype) @ z
        mass = assignment.sum(dim=0)
    else:
        raise ValueError("assignment must be [N] long (hard) or [N, K] float (soft), got "
                         f"{tuple(assignment.shape)} {assignment.dtype}")
    ids = torch.arange(centres.size(0), device=z.device)
    if drop_empty:
        keep = mass > 0
        centres, ids = centres[keep], ids[keep]
    return centres, ids


def pamc_loss(
    z: Tensor,
    adj: SparseOperator,
    assignment: Tensor,
    tau: float | Tensor = 1.0,
    *,
    num_clusters: int | None = None,
    drop_empty: bool = True,
    eps: float = 1e-8,
    edge_chunk_size: int | None = None,
) -> Tensor:
    """The PamC loss (see the module docstring).

    Args:
        z: [N, d] embeddings.
        adj: the positive operator A, sparse [N, N] (COO/CSR) or ``(edge_index, edge_weight)``;
            its diagonal entries are the self pairs (kept with ``s_ii = 0``).
        assignment: [N] long hard cluster ids (e.g. ``argmax Q``, detached) or [N, K] soft Q.
        tau: multiplies the cosines.
        num_clusters: K (only matters with ``drop_empty=False``).
        drop_empty: drop empty clusters (zero meta-nodes) before the meta-node partition.
        eps: lower bound of the norms in the cosines.
        edge_chunk_size: edges per checkpointed block of the positive term.

    Returns:
        scalar loss.

    Raises:
        EmptyClusterError: fewer than two clusters remain.
    """
    check_tau(tau)
    _, pos = normalized_positive_sums(z, adj, tau, eps, edge_chunk_size)
    centres, _ = meta_nodes(z, assignment, num_clusters, drop_empty=drop_empty)
    if centres.size(0) < 2:
        raise EmptyClusterError(f"PamC needs at least 2 non-empty clusters, got {centres.size(0)}")
    cn = F.normalize(centres, dim=1, eps=eps)
    s = cn @ cn.T
    s = s.diagonal_scatter(s.new_zeros(s.size(0)))
    neg = torch.exp(tau * s).sum(dim=1)
    return -torch.log(pos + 1e-10).mean() + torch.log(neg + 1e-10).mean()


class PamCLoss(nn.Module):
    """PamC loss as a module (see :func:`pamc_loss`); ``forward(z, adj, assignment)``.

    Args:
        tau: multiplies the cosines (the original's "temperature").
        num_clusters: K.
        drop_empty: drop empty clusters.
        eps: lower bound of the norms.
        edge_chunk_size: edges per checkpointed block of the positive term.
    """

    def __init__(self, tau: float = 1.0, *, num_clusters: int | None = None, drop_empty: bool = True,
                 eps: float = 1e-8, edge_chunk_size: int | None = None):
        super().__init__()
        check_tau(tau)
        self.tau, self.num_clusters, self.drop_empty = tau, num_clusters, drop_empty
        self.eps, self.edge_chunk_size = eps, edge_chunk_size

    def forward(self, z: Tensor, adj: SparseOperator, assignment: Tensor) -> Tensor:
        return pamc_loss(z, adj, assignment, self.tau, num_clusters=self.num_clusters,
                         drop_empty=self.drop_empty, eps=self.eps, edge_chunk_size=self.edge_chunk_size)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, num_clusters={self.num_clusters}, drop_empty={self.drop_empty}"
