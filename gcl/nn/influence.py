"""The cumulative "influence" operator of SCGC / PamC, built sparsely.

With the binary adjacency ``A`` of a graph (edge weights and duplicates ignored),

    Ã = D⁻¹ (max(A, Aᵀ) + I)          (row-normalised, self-loops added; D = row sums)
    Â = Σ_{t=1..r} Ãᵗ                  (every row of Â sums to r)

``Â_ij`` weights node j as a positive of node i in the neighbourhood contrastive losses
(:mod:`gcl.losses.pamc`, :mod:`gcl.losses.scgc`). A self-loop already present in ``A`` adds to
the identity (the diagonal of ``max(A, Aᵀ) + I`` is then 2), exactly as the formula reads.

Every power is a sparse CSR x CSR product, so the cost follows nnz(Âᵗ), never N²; Â becomes
dense quickly with r on graphs with hubs (Amazon Photo: 10 % of N² at r = 2), which is why the
loss cost is linear in N only while nnz(Â) = O(N).
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor


def _csr(coo: Tensor) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        return coo.coalesce().to_sparse_csr()


def row_normalized_adjacency(edge_index: Tensor, num_nodes: int, *,
                             dtype: torch.dtype = torch.float32) -> Tensor:
    """``Ã = D⁻¹ (max(A, Aᵀ) + I)`` as a sparse CSR tensor.

    Args:
        edge_index: [2, E] long, any direction; duplicate edges count once.
        num_nodes: N.
        dtype: value dtype.

    Returns:
        [N, N] sparse CSR on ``edge_index``'s device; every row sums to 1.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must be [2, E], got {tuple(edge_index.shape)}")
    if num_nodes < 1:
        raise ValueError(f"num_nodes must be >= 1, got {num_nodes}")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index has node ids outside [0, {num_nodes})")
    dev = edge_index.device
    both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    sym = torch.sparse_coo_tensor(both, torch.ones(both.size(1), dtype=dtype, device=dev),
                                  (num_nodes, num_nodes), check_invariants=False).coalesce()
    idx, val = sym.indices(), torch.ones_like(sym.values())            # max(A, Aᵀ), binary
    loop = torch.arange(num_nodes, device=dev)
    idx = torch.cat([idx, loop.expand(2, -1)], dim=1)
    val = torch.cat([val, torch.ones(num_nodes, dtype=dtype, device=dev)])
    a = torch.sparse_coo_tensor(idx, val, (num_nodes, num_nodes), check_invariants=False).coalesce()  # + I (summed)
    idx, val = a.indices(), a.values()
    deg = torch.zeros(num_nodes, dtype=dtype, device=dev).index_add_(0, idx[0], val)
    return _csr(torch.sparse_coo_tensor(idx, val / deg[idx[0]], (num_nodes, num_nodes),
                                        check_invariants=False))


def influence_operator(edge_index: Tensor, num_nodes: int, r: int = 1, *,
                       dtype: torch.dtype = torch.float32) -> Tensor:
    """``Â = Σ_{t=1..r} Ãᵗ`` (see the module docstring), by sparse CSR products.

    Args:
        edge_index: [2, E] long.
        num_nodes: N.
        r: number of powers summed, ``r >= 1``.
        dtype: value dtype.

    Returns:
        [N, N] sparse CSR; every row sums to ``r``.
    """
    if isinstance(r, bool) or int(r) != r or r < 1:
        raise ValueError(f"r must be a positive integer, got {r!r}")
    step = row_normalized_adjacency(edge_index, num_nodes, dtype=dtype)
    power, total = step, step
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        for _ in range(1, int(r)):
            power = power @ step
            total = total + power
    return total
