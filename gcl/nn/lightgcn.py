"""LightGCN propagation (He et al., 2020) on a fixed sparse operator with a precomputed transpose.

LightGCN has no weights or non-linearities between layers: ``E^{k+1} = Â E^k`` and the output is
a weighted sum of the layers,

    E = Σ_{k=0..K} α_k E^k,     α_k = 1 / (K + 1) ("mean", LightGCN) or 1 ("sum", LightGCL).

``Â`` is either the symmetric ``(I + J) × (I + J)`` normalised adjacency of the user-item graph
(``InteractionGraph.normalized_adjacency()``) or its user-item block
``R̂ = D_u^{-1/2} R D_i^{-1/2}`` (I × J, :func:`normalized_bipartite_adjacency`), which propagates
``E_u^{k+1} = R̂ E_i^k`` and ``E_i^{k+1} = R̂ᵀ E_u^k`` and gives the same numbers at half the
non-zeros.

Autograd through ``torch.sparse.mm`` transposes the sparse matrix on every backward pass.
:class:`SparseOperator` keeps ``A`` and ``Aᵀ`` as CSR, built once, and :func:`spmm` is a custom
autograd function whose backward multiplies by the stored ``Aᵀ``: ``∂L/∂E = Aᵀ ∂L/∂(AE)``.
The operator's values are constants (no gradient); :meth:`SparseOperator.dropout` redraws them
(edge dropout) without rebuilding either index structure.
"""
from __future__ import annotations

import math
import warnings
from typing import Literal, Sequence

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


def _csr(crow: Tensor, col: Tensor, val: Tensor, size: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        return torch.sparse_csr_tensor(crow, col, val, size=size, check_invariants=False)


def _as_csr(matrix: Tensor) -> Tensor:
    if matrix.layout == torch.sparse_csr:
        return matrix
    if matrix.layout == torch.sparse_coo:
        matrix = matrix.coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        return matrix.to_sparse_csr()


def csr_transpose(matrix: Tensor) -> tuple[Tensor, Tensor]:
    """``Aᵀ`` as CSR plus the permutation of the non-zeros.

    Args:
        matrix: [m, n] sparse CSR (COO and dense are converted).

    Returns:
        ``(A_t, perm)``: ``A_t`` [n, m] CSR with columns sorted within each row, and ``perm``
        [nnz] long such that ``A_t.values() == A.values()[perm]``.
    """
    a = _as_csr(matrix)
    m, n = a.shape
    crow, col = a.crow_indices(), a.col_indices()
    rows = torch.repeat_interleave(torch.arange(m, device=crow.device), crow[1:] - crow[:-1])
    # CSR order is row-major, so a stable sort by column gives column-major (row-sorted) order.
    perm = torch.argsort(col, stable=True)
    crow_t = torch.zeros(n + 1, dtype=crow.dtype, device=crow.device)
    crow_t[1:] = torch.cumsum(torch.bincount(col, minlength=n), 0)
    a_t = _csr(crow_t, rows.index_select(0, perm).to(col.dtype), a.values().index_select(0, perm), (n, m))
    return a_t, perm


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, adj: Tensor, adj_t: Tensor, dense: Tensor) -> Tensor:  # type: ignore[override]
        ctx.adj_t = adj_t
        return torch.sparse.mm(adj, dense)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor | None]:  # type: ignore[override]
        if not ctx.needs_input_grad[2]:
            return None, None, None
        return None, None, torch.sparse.mm(ctx.adj_t, grad.contiguous())


def spmm(adj: Tensor, adj_t: Tensor, dense: Tensor) -> Tensor:
    """``A @ X`` for a constant sparse ``A`` whose backward uses the precomputed ``Aᵀ``.

    Forward ``Y = A X``; backward ``∂L/∂X = Aᵀ ∂L/∂Y``. No gradient reaches ``A``'s values.

    Args:
        adj: [m, n] sparse (CSR preferred), values without ``requires_grad``.
        adj_t: [n, m] sparse, equal to ``adj.T``.
        dense: [n, d] dense.

    Returns:
        [m, d] dense.
    """
    if adj.requires_grad or adj_t.requires_grad:
        raise ValueError("spmm treats adj as a constant: its values must not require grad "
                         "(use torch.sparse.mm for a differentiable sparse matrix)")
    if dense.dim() != 2 or dense.size(0) != adj.size(1):
        raise ValueError(f"dense must have shape [{adj.size(1)}, d] for adj of shape "
                         f"{tuple(adj.shape)}, got {tuple(dense.shape)}")
    if tuple(adj_t.shape) != (adj.size(1), adj.size(0)):
        raise ValueError(f"adj_t must have shape {(adj.size(1), adj.size(0))}, got {tuple(adj_t.shape)}")
    return _SpMM.apply(adj, adj_t, dense)


class SparseOperator:
    """A constant sparse matrix ``A`` kept together with ``Aᵀ`` (both CSR).

    ``op @ X`` computes ``A X`` with the backward ``Aᵀ ∂L/∂Y`` (see :func:`spmm`); ``op.T`` is
    the transposed operator (no copy). Build it once per graph and reuse it every step.

    Args:
        matrix: [m, n] sparse (CSR, COO) or dense tensor.

    Attributes:
        matrix: ``A`` as CSR.
        matrix_t: ``Aᵀ`` as CSR.
        perm: [nnz] ``matrix_t.values() == matrix.values()[perm]``.
    """

    def __init__(self, matrix: Tensor, *, _transpose: tuple[Tensor, Tensor] | None = None):
        if matrix.dim() != 2:
            raise ValueError(f"matrix must be 2-D, got shape {tuple(matrix.shape)}")
        self.matrix = _as_csr(matrix)
        if _transpose is None:
            _transpose = csr_transpose(self.matrix)
        self.matrix_t, self.perm = _transpose
        self._t: SparseOperator | None = None

    @property
    def shape(self) -> torch.Size:
        return self.matrix.shape

    @property
    def device(self) -> torch.device:
        return self.matrix.device

    @property
    def dtype(self) -> torch.dtype:
        return self.matrix.dtype

    def values(self) -> Tensor:
        """The [nnz] stored values of ``A`` in CSR order."""
        return self.matrix.values()

    @property
    def T(self) -> "SparseOperator":  # noqa: N802 (matches Tensor.T)
        """``Aᵀ`` as an operator (shares storage; built once, then cached)."""
        if self._t is None:
            inverse = torch.empty_like(self.perm)
            inverse[self.perm] = torch.arange(self.perm.numel(), device=self.perm.device)
            self._t = SparseOperator(self.matrix_t, _transpose=(self.matrix, inverse))
            self._t._t = self
        return self._t

    def with_values(self, values: Tensor) -> "SparseOperator":
        """The same sparsity pattern with new values ([nnz], in ``A``'s CSR order)."""
        if values.shape != self.values().shape:
            raise ValueError(f"values must have shape {tuple(self.values().shape)}, "
                             f"got {tuple(values.shape)}")
        a = self.matrix
        t = self.matrix_t
        new_a = _csr(a.crow_indices(), a.col_indices(), values, tuple(a.shape))
        new_t = _csr(t.crow_indices(), t.col_indices(), values.index_select(0, self.perm), tuple(t.shape))
        return SparseOperator(new_a, _transpose=(new_t, self.perm))

    def dropout(self, p: float, generator: torch.Generator | None = None) -> "SparseOperator":
        """Edge dropout: each stored value is zeroed with probability ``p`` and the survivors
        are scaled by ``1 / (1 - p)``; the index structure is kept. ``p = 0`` returns ``self``.

        Args:
            p: drop probability in [0, 1).
            generator: source of randomness (None = torch's global RNG).
        """
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        if p == 0.0:
            return self
        vals = self.values()
        draw_on = generator.device if generator is not None else vals.device
        keep = (torch.rand(vals.shape, generator=generator, device=draw_on) >= p).to(vals.device)
        return self.with_values(vals * keep.to(vals.dtype) / (1.0 - p))

    def to(self, device: str | torch.device | None = None,
           dtype: torch.dtype | None = None) -> "SparseOperator":
        """A copy on ``device`` and/or with floating ``dtype``."""
        def move(t: Tensor) -> Tensor:
            t = t.to(device) if device is not None else t
            return t.to(dtype) if dtype is not None else t

        perm = self.perm.to(device) if device is not None else self.perm
        return SparseOperator(move(self.matrix), _transpose=(move(self.matrix_t), perm))

    def __matmul__(self, dense: Tensor) -> Tensor:
        return spmm(self.matrix, self.matrix_t, dense)

    def __repr__(self) -> str:
        return (f"SparseOperator(shape={tuple(self.shape)}, nnz={self.values().numel()}, "
                f"device={self.device})")


def normalized_bipartite_adjacency(interactions: Tensor) -> Tensor:
    """``R̂ = D_u^{-1/2} R D_i^{-1/2}`` as CSR, the user-item block of LightGCN's operator.

    ``d_u`` / ``d_i`` are the row / column sums of ``R`` (degrees for a binary matrix); rows and
    columns without interactions stay zero. No self-loops, no dense matrix.

    Args:
        interactions: [I, J] sparse (CSR or COO) user-item matrix, e.g. ``InteractionGraph.train``.

    Returns:
        [I, J] float CSR on the input's device.
    """
    r = _as_csr(interactions)
    crow, col = r.crow_indices(), r.col_indices()
    val = r.values()
    if not val.is_floating_point():
        val = val.float()
    n_u, n_i = r.shape
    rows = torch.repeat_interleave(torch.arange(n_u, device=crow.device), crow[1:] - crow[:-1])
    d_u = torch.zeros(n_u, dtype=val.dtype, device=val.device).index_add_(0, rows, val)
    d_i = torch.zeros(n_i, dtype=val.dtype, device=val.device).index_add_(0, col, val)
    inv_u = torch.where(d_u > 0, d_u.clamp(min=1e-30).rsqrt(), torch.zeros_like(d_u))
    inv_i = torch.where(d_i > 0, d_i.clamp(min=1e-30).rsqrt(), torch.zeros_like(d_i))
    return _csr(crow, col, val * inv_u.index_select(0, rows) * inv_i.index_select(0, col), (n_u, n_i))


LayerCombination = Literal["mean", "sum"]


def _layer_weights(num_layers: int, combination: LayerCombination | Sequence[float]) -> list[float]:
    if isinstance(combination, str):
        if combination == "mean":
            return [1.0 / (num_layers + 1)] * (num_layers + 1)
        if combination == "sum":
            return [1.0] * (num_layers + 1)
        raise ValueError(f"layer_combination must be 'mean', 'sum' or K + 1 weights, got {combination!r}")
    weights = [float(w) for w in combination]
    if len(weights) != num_layers + 1:
        raise ValueError(f"layer_combination needs num_layers + 1 = {num_layers + 1} weights, "
                         f"got {len(weights)}")
    return weights


def _matmul(adj: SparseOperator | Tensor, dense: Tensor) -> Tensor:
    return adj @ dense if isinstance(adj, SparseOperator) else torch.sparse.mm(adj, dense)


def lightgcn_propagate(adj: SparseOperator | Tensor, emb: Tensor, num_layers: int,
                       layer_combination: LayerCombination | Sequence[float] = "mean") -> Tensor:
    """``Σ_k α_k Â^k E`` on a square operator (e.g. the (I+J) × (I+J) normalised adjacency).

    Args:
        adj: [N, N] :class:`SparseOperator` (or a sparse tensor: plain autograd).
        emb: [N, d] layer-0 embeddings.
        num_layers: K >= 0.
        layer_combination: ``'mean'`` (α_k = 1/(K+1)), ``'sum'`` (α_k = 1) or K + 1 weights.

    Returns:
        [N, d].
    """
    if num_layers < 0:
        raise ValueError(f"num_layers must be >= 0, got {num_layers}")
    alphas = _layer_weights(num_layers, layer_combination)
    out = alphas[0] * emb
    h = emb
    for k in range(1, num_layers + 1):
        h = _matmul(adj, h)
        out = out + alphas[k] * h
    return out


def lightgcn_propagate_bipartite(
    adj: SparseOperator,
    user_emb: Tensor,
    item_emb: Tensor,
    num_layers: int,
    layer_combination: LayerCombination | Sequence[float] = "mean",
) -> tuple[Tensor, Tensor]:
    """LightGCN on the user-item block: ``E_u^{k+1} = R̂ E_i^k``, ``E_i^{k+1} = R̂ᵀ E_u^k``.

    Equal to :func:`lightgcn_propagate` on ``[[0, R̂], [R̂ᵀ, 0]]`` with the rows split.

    Args:
        adj: [I, J] :class:`SparseOperator` of ``R̂``.
        user_emb: [I, d]; item_emb: [J, d].
        num_layers, layer_combination: as in :func:`lightgcn_propagate`.

    Returns:
        ``(users [I, d], items [J, d])``.
    """
    if num_layers < 0:
        raise ValueError(f"num_layers must be >= 0, got {num_layers}")
    if tuple(adj.shape) != (user_emb.size(0), item_emb.size(0)):
        raise ValueError(f"adj has shape {tuple(adj.shape)} but there are {user_emb.size(0)} user "
                         f"and {item_emb.size(0)} item embeddings")
    alphas = _layer_weights(num_layers, layer_combination)
    adj_t = adj.T
    hu, hi = user_emb, item_emb
    out_u, out_i = alphas[0] * hu, alphas[0] * hi
    for k in range(1, num_layers + 1):
        hu, hi = adj @ hi, adj_t @ hu
        out_u = out_u + alphas[k] * hu
        out_i = out_i + alphas[k] * hi
    return out_u, out_i


class LightGCN(nn.Module):
    """User and item embedding tables propagated by LightGCN.

    Args:
        n_users, n_items: I and J.
        dim: embedding size d (default 64).
        num_layers: K (default 3).
        layer_combination: ``'mean'`` (LightGCN), ``'sum'`` (LightGCL) or K + 1 weights.
        init: ``'normal'`` (N(0, init_std²), LightGCN-PyTorch's 0.1) or ``'xavier'``
            (Xavier-uniform, LightGCL).
        init_std: standard deviation of the normal initialisation.

    Shapes:
        ``forward(adj) -> (users [I, d], items [J, d])`` where ``adj`` is a
        :class:`SparseOperator` of either the [I, J] block ``R̂`` or the [I+J, I+J] matrix.
    """

    def __init__(self, n_users: int, n_items: int, dim: int = 64, num_layers: int = 3, *,
                 layer_combination: LayerCombination | Sequence[float] = "mean",
                 init: Literal["normal", "xavier"] = "normal", init_std: float = 0.1):
        super().__init__()
        if n_users < 1 or n_items < 1:
            raise ValueError(f"n_users and n_items must be >= 1, got {n_users}, {n_items}")
        if init not in ("normal", "xavier"):
            raise ValueError(f"init must be 'normal' or 'xavier', got {init!r}")
        _layer_weights(num_layers, layer_combination)  # validates
        self.n_users, self.n_items = n_users, n_items
        self.num_layers = num_layers
        self.layer_combination = layer_combination
        self.init, self.init_std = init, init_std
        self.user_emb = nn.Parameter(torch.empty(n_users, dim))
        self.item_emb = nn.Parameter(torch.empty(n_items, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in (self.user_emb, self.item_emb):
            if self.init == "normal":
                nn.init.normal_(w, 0.0, self.init_std)
            else:
                bound = math.sqrt(6.0 / (w.size(0) + w.size(1)))
                nn.init.uniform_(w, -bound, bound)

    def forward(self, adj: SparseOperator) -> tuple[Tensor, Tensor]:
        n_u, n_i = self.n_users, self.n_items
        if tuple(adj.shape) == (n_u, n_i):
            return lightgcn_propagate_bipartite(adj, self.user_emb, self.item_emb,
                                                self.num_layers, self.layer_combination)
        if tuple(adj.shape) == (n_u + n_i, n_u + n_i):
            out = lightgcn_propagate(adj, torch.cat([self.user_emb, self.item_emb]),
                                     self.num_layers, self.layer_combination)
            return out[:n_u], out[n_u:]
        raise ValueError(f"adj must have shape ({n_u}, {n_i}) or ({n_u + n_i}, {n_u + n_i}), "
                         f"got {tuple(adj.shape)}")
