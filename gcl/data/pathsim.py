"""PathSim top-k pruning of meta-path count matrices and MEOW's transposed normalisation.

For a symmetric meta-path with path-count matrix ``M`` (``M_ij`` = number of path instances
between target nodes i and j), PathSim (Sun et al., 2011) scores every non-zero pair

    s_ij = 2 M_ij / (M_ii + M_jj).

:func:`pathsim_topk` keeps, in every row, the ``k`` columns with the highest ``s``; the kept
value is the **count** ``M_ij``, so the result ``Ã`` is not symmetric. Ties (ACM's PSP has
``s = 1`` everywhere, one subject per paper) are broken by a seeded random order, and the
self-loop is always kept (counted inside the ``k``); MEOW's original breaks ties by array
order and drops the self-loop of about 31 % of PSP rows (``keep_self_loop=False,
tie_break="index"`` comes closest).

:func:`transposed_sym_norm` is MEOW's normaliser, ``Â = D^{-1/2} Ãᵀ D^{-1/2}`` with ``D`` the
row sums of ``Ã`` (zero rows stay zero).

Everything is vectorised over the non-zeros (stable sorts, no Python loop over rows) and runs
on the device of the input.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pathsim_scores", "pathsim_topk", "row_ranks", "transposed_sym_norm"]


def _coalesced(matrix: Tensor, name: str) -> Tensor:
    if not isinstance(matrix, Tensor) or matrix.layout != torch.sparse_coo or matrix.dim() != 2:
        raise ValueError(f"{name} must be a 2-D torch sparse COO tensor, got "
                         f"{getattr(matrix, 'layout', type(matrix).__name__)}")
    if matrix.size(0) != matrix.size(1):
        raise ValueError(f"{name} must be square, got shape {tuple(matrix.shape)}")
    return matrix.coalesce()


def pathsim_scores(counts: Tensor) -> Tensor:
    """PathSim ``s_ij = 2 M_ij / (M_ii + M_jj)`` on the non-zeros of ``counts``.

    Args:
        counts: [N, N] sparse COO path-count matrix ``M`` of a symmetric meta-path.

    Returns:
        [nnz] scores in the order of ``counts.coalesce().indices()``.
    """
    m = _coalesced(counts, "counts")
    row, col = m.indices()
    val = m.values().double()
    diag = torch.zeros(m.size(0), dtype=torch.float64, device=val.device)
    self_loop = row == col
    diag.index_add_(0, row[self_loop], val[self_loop])
    denom = diag[row] + diag[col]
    if bool((denom <= 0).any()):
        raise ValueError("counts has a non-zero M_ij with M_ii + M_jj = 0; PathSim needs the "
                         "diagonal of a symmetric path-count matrix (M = H Hᵀ)")
    return 2.0 * val / denom


def row_ranks(row: Tensor, n_rows: int) -> Tensor:
    """Position of each entry inside its row, for entries already sorted by row.

    Args:
        row: [nnz] non-decreasing row ids.
        n_rows: number of rows.

    Returns:
        [nnz] int64 ``0, 1, ...`` restarting at every row.
    """
    counts = torch.bincount(row, minlength=n_rows)
    starts = torch.cumsum(counts, 0) - counts
    return torch.arange(row.numel(), device=row.device) - starts[row]


def pathsim_topk(counts: Tensor, k: int, *, keep_self_loop: bool = True, tie_break: str = "random",
                 generator: torch.Generator | None = None) -> Tensor:
    """Keep the ``k`` highest-PathSim columns of every row; values are the counts.

    Args:
        counts: [N, N] sparse COO path-count matrix ``M``.
        k: columns kept per row (rows with fewer non-zeros keep all of them).
        keep_self_loop: rank the diagonal entry first in its row, so it is always kept.
        tie_break: ``"random"`` (a seeded random order among equal scores) or ``"index"``
            (lower column id first).
        generator: source of the random tie-break.

    Returns:
        [N, N] coalesced sparse COO ``Ã`` (float32 counts), not symmetric in general.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if tie_break not in ("random", "index"):
        raise ValueError(f"tie_break must be 'random' or 'index', got {tie_break!r}")
    m = _coalesced(counts, "counts")
    n = m.size(0)
    row, col = m.indices()
    score = pathsim_scores(m)
    if keep_self_loop:
        score = torch.where(row == col, torch.full_like(score, float("inf")), score)
    if tie_break == "random":
        gdev = generator.device if generator is not None else score.device
        order = torch.randperm(score.numel(), generator=generator, device=gdev).to(score.device)
    else:
        order = torch.arange(score.numel(), device=score.device)      # coalesced: column order
    # Lexicographic (row asc, score desc, tie-break) by stable sorts from the last key.
    order = order[torch.sort(-score[order], stable=True).indices]
    order = order[torch.sort(row[order], stable=True).indices]
    keep = order[row_ranks(row[order], n) < k]
    return torch.sparse_coo_tensor(m.indices()[:, keep], m.values()[keep].float(), m.shape, check_invariants=False).coalesce()


def transposed_sym_norm(adj: Tensor) -> Tensor:
    """MEOW's normaliser ``Â = D^{-1/2} Ãᵀ D^{-1/2}``, ``D = diag(Ã 1)`` (row sums).

    Entry ``(i, j, v)`` of ``Ã`` becomes ``(j, i, v / sqrt(d_i d_j))``. Rows with zero sum
    contribute nothing.

    Args:
        adj: [N, N] sparse COO ``Ã`` with non-negative values.

    Returns:
        [N, N] coalesced sparse COO ``Â`` (float32).
    """
    a = _coalesced(adj, "adj")
    row, col = a.indices()
    val = a.values().float()
    if bool((val < 0).any()):
        raise ValueError("adj must have non-negative values")
    deg = torch.zeros(a.size(0), dtype=val.dtype, device=val.device).index_add_(0, row, val)
    inv_sqrt = torch.where(deg > 0, deg.clamp_min(1e-30).rsqrt(), torch.zeros_like(deg))
    out_val = val * inv_sqrt[row] * inv_sqrt[col]
    return torch.sparse_coo_tensor(torch.stack([col, row]), out_val, a.shape, check_invariants=False).coalesce()
