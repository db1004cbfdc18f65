"""The inputs of a meta-path model (MEOW, AdaMEOW), prepared once from a heterogeneous graph.

From a ``HeteroData`` of :func:`gcl.data.hetero.load_hetero` (N target nodes, meta-paths
``p = 1..P``), :func:`prepare_metapath_graphs` builds, on one device:

* **features**, every matrix row-normalised (``x_i / sum(x_i)``, zero rows stay zero):
  the target features ``X`` [N, F] and the features of every intermediate type ``Y``;
* **pruned meta-path graphs** ``Ã_p`` = :func:`~gcl.data.pathsim.pathsim_topk` of the path
  counts ``M_p`` with ``k_p`` columns per row, and their operators
  ``Â_p = D^{-1/2} Ã_pᵀ D^{-1/2}`` (:func:`~gcl.data.pathsim.transposed_sym_norm`), kept as
  :class:`~gcl.nn.lightgcn.SparseOperator`; the coarse operator ``Ā = (1/P) Σ_p Â_p``;
* **context operators**: for a meta-path ``T Y_1 ... Y_m ... T`` and each prefix
  ``T Y_1 .. Y_j`` of its first half (one prefix, ``T Y``, for length-2 paths), the
  row-normalised reachability ``R_j`` [N, n_{Y_j}] (``R_ij = 1/|reach(i)|`` for the distinct
  ``Y_j`` nodes reachable from i along the prefix; a row without any stays zero). The meta-path
  context is the mean over prefixes of ``R_j g_{Y_j}``, which for length-2 paths is MEOW's
  "mean of the intermediate neighbours' projected features".

:meth:`MetaPathGraphs.augmented` draws MEOW's augmentation (masked ``X′`` and edge-dropped,
renormalised ``Â_p^drop``).

Sparse throughout: the only N x N objects are sparse operators.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from gcl.data.hetero import _scipy_to_torch, get_split
from gcl.data.pathsim import pathsim_topk, transposed_sym_norm
from gcl.nn.lightgcn import SparseOperator
from gcl.views.metapath import mask_nonzero_features, metapath_edge_drop

__all__ = ["MetaPathGraphs", "prepare_metapath_graphs", "row_normalize"]

#: Features sparser than this stay sparse COO; denser ones are densified.
DENSE_ABOVE = 0.1


def row_normalize(x: Tensor) -> Tensor:
    """``x_i / sum_j x_ij`` per row (zero rows stay zero); dense or sparse COO in, same out."""
    if x.layout == torch.sparse_coo:
        xs = x.coalesce()
        row = xs.indices()[0]
        sums = torch.zeros(xs.size(0), dtype=xs.dtype, device=xs.device).index_add_(0, row, xs.values())
        scale = torch.where(sums != 0, 1.0 / torch.where(sums != 0, sums, torch.ones_like(sums)),
                            torch.zeros_like(sums))
        return torch.sparse_coo_tensor(xs.indices(), xs.values() * scale[row], xs.shape, check_invariants=False).coalesce()
    sums = x.sum(dim=1, keepdim=True)
    return torch.where(sums != 0, x / torch.where(sums != 0, sums, torch.ones_like(sums)), torch.zeros_like(x))


def _layout_for_compute(x: Tensor) -> Tensor:
    """Densify features that are not really sparse (the product is then a plain GEMM)."""
    if x.layout == torch.sparse_coo:
        density = x._nnz() / max(1, x.size(0) * x.size(1))
        if density > DENSE_ABOVE:
            return x.to_dense()
    return x


def _row_mean_operator(reach: sp.csr_matrix) -> Tensor:
    """Binary reachability -> row-normalised sparse COO [N, n_Y]."""
    b = sp.csr_matrix(reach, dtype=np.float64, copy=True)
    b.data[:] = 1.0
    deg = np.asarray(b.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    return _scipy_to_torch(sp.diags(inv) @ b, torch.float32)


@dataclass
class MetaPathGraphs:
    """Prepared inputs of a meta-path model (see the module docstring).

    Attributes:
        names: meta-path names (``("PAP", "PSP")``).
        x: [N, F] row-normalised target features (dense or sparse COO).
        neighbor_x: node type name -> [n_Y, F_Y] row-normalised features of that type.
        contexts: per meta-path, the ``(type name, R [N, n_Y] sparse COO)`` of each prefix.
        pruned: per meta-path, ``Ã_p`` [N, N] sparse COO (kept path counts).
        adjs: per meta-path, ``Â_p`` as a :class:`SparseOperator`.
        coarse: ``Ā = (1/P) Σ_p Â_p`` as a :class:`SparseOperator`.
        y: [N] labels; splits: label rate -> (train, val, test) ids; num_classes.
        topk: the ``k_p`` used per meta-path.
    """

    names: tuple[str, ...]
    x: Tensor
    neighbor_x: dict[str, Tensor]
    contexts: list[list[tuple[str, Tensor]]]
    pruned: list[Tensor]
    adjs: list[SparseOperator]
    coarse: SparseOperator
    y: Tensor
    splits: dict[int, tuple[Tensor, Tensor, Tensor]]
    num_classes: int
    topk: tuple[int, ...] = field(default_factory=tuple)

    @property
    def num_nodes(self) -> int:
        return self.x.size(0)

    @property
    def num_metapaths(self) -> int:
        return len(self.names)

    @property
    def device(self) -> torch.device:
        return self.x.device

    def augmented(self, feat_mask: float, adj_mask: Sequence[float],
                  generator: torch.Generator | None = None) -> tuple[Tensor, list[SparseOperator]]:
        """MEOW's augmentation: ``(X′, [Â_p^drop])``.

        Args:
            feat_mask: fraction of the non-zeros of ``X`` set to zero.
            adj_mask: per meta-path, the fraction of off-diagonal entries of ``Ã_p`` deleted.
            generator: source of randomness.
        """
        masks = list(adj_mask)
        if len(masks) != self.num_metapaths:
            raise ValueError(f"adj_mask has {len(masks)} values for {self.num_metapaths} meta-paths "
                             f"{list(self.names)}")
        x_aug = mask_nonzero_features(self.x, feat_mask, generator)
        adjs = [SparseOperator(transposed_sym_norm(metapath_edge_drop(a, p, generator)))
                for a, p in zip(self.pruned, masks)]
        return x_aug, adjs


def _intermediate_types(letters: str, metapath: str) -> list[str]:
    """Letters of the first half's intermediate types: ``"APCPA"`` -> ``["p", "c"]``."""
    inner = metapath.lower()[1: (len(metapath) + 1) // 2]
    for ch in inner:
        if ch not in letters:
            raise ValueError(f"meta-path {metapath!r} uses type letter {ch!r}, unknown to the dataset")
    return list(inner)


def prepare_metapath_graphs(data, topk: int | Sequence[int] | None = None, *,
                            keep_self_loop: bool = True, tie_break: str = "random", seed: int = 0,
                            device: str | torch.device = "cpu") -> MetaPathGraphs:
    """Build :class:`MetaPathGraphs` from a loaded heterogeneous graph.

    Args:
        data: a ``HeteroData`` from :func:`gcl.data.hetero.load_hetero` (``gcl.data.load``).
        topk: PathSim columns kept per row, one value per meta-path or one for all; ``None``
            keeps every non-zero.
        keep_self_loop, tie_break: see :func:`~gcl.data.pathsim.pathsim_topk`.
        seed: seed of the random tie-break.
        device: where every tensor goes.
    """
    names = tuple(data.metapaths.keys())
    if topk is None:
        ks = [None] * len(names)
    elif isinstance(topk, int):
        ks = [topk] * len(names)
    else:
        ks = list(topk)
        if len(ks) != len(names):
            raise ValueError(f"topk has {len(ks)} values for the {len(names)} meta-paths {list(names)}")
    letters: dict[str, str] = dict(data.type_letters)
    target = data.target_type
    gen = torch.Generator().manual_seed(seed)

    pruned: list[Tensor] = []
    used_k: list[int] = []
    for name, k in zip(names, ks):
        counts = data.metapaths.to_torch(name, torch.float64)
        if k is None:
            k = int(torch.bincount(counts.indices()[0], minlength=counts.size(0)).max())
        pruned.append(pathsim_topk(counts, int(k), keep_self_loop=keep_self_loop, tie_break=tie_break,
                                   generator=gen).to(device))
        used_k.append(int(k))
    adjs = [SparseOperator(transposed_sym_norm(a)) for a in pruned]
    coarse_coo = adjs[0].matrix.to_sparse_coo()
    for op in adjs[1:]:
        coarse_coo = coarse_coo + op.matrix.to_sparse_coo()
    coarse = SparseOperator((coarse_coo / len(adjs)).coalesce())

    contexts: list[list[tuple[str, Tensor]]] = []
    neighbor_x: dict[str, Tensor] = {}
    for name in names:
        prefixes = []
        path = name[0]
        for ch in _intermediate_types("".join(letters), name):
            path += ch.upper()
            type_name = letters[ch]
            prefixes.append((type_name, _row_mean_operator(data.metapaths.path_counts(path)).to(device)))
            if type_name not in neighbor_x:
                neighbor_x[type_name] = _layout_for_compute(row_normalize(data[type_name].x.float())).to(device)
        contexts.append(prefixes)

    x = _layout_for_compute(row_normalize(data[target].x.float())).to(device)
    y = data[target].y.to(device)
    splits = {r: tuple(t.to(device) for t in get_split(data, r)) for r in data.label_rates}
    return MetaPathGraphs(names, x, neighbor_x, contexts, pruned, adjs, coarse, y, splits,
                          int(data.num_classes), tuple(used_k))
