"""MEOW's augmentations of a heterogeneous graph's target features and meta-path graphs.

* :func:`mask_nonzero_features`: zero ``floor(p · nnz)`` of the non-zero entries of ``X``,
  chosen uniformly without replacement (``X′``);
* :func:`metapath_edge_drop`: for a pruned meta-path graph ``Ã``, remove the diagonal, delete
  ``floor(p · m)`` of the remaining ``m`` entries uniformly without replacement, set the
  survivors to 1 and add ``I``:

      Ã^drop = 1[kept off-diagonal entries of Ã] + I

  (normalise it with :func:`gcl.data.pathsim.transposed_sym_norm`, as MEOW does).

MEOW draws both once before training; drawing them again each epoch is the caller's choice.
Inputs are never modified; every draw comes from the explicit ``generator``.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mask_nonzero_features", "metapath_edge_drop"]


def _check_fraction(p: float, name: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p}")


def _choose(n: int, count: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """[n] bool mask with exactly ``count`` True entries, uniformly without replacement."""
    gdev = generator.device if generator is not None else device
    chosen = torch.randperm(n, generator=generator, device=gdev)[:count].to(device)
    mask = torch.zeros(n, dtype=torch.bool, device=device)
    mask[chosen] = True
    return mask


def mask_nonzero_features(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """``X′``: a copy of ``x`` with ``floor(p · nnz)`` of its non-zeros set to 0.

    Args:
        x: [N, F] dense or sparse COO features.
        p: fraction of the non-zero entries to zero.
        generator: source of randomness.

    Returns:
        [N, F] tensor of the same layout (sparse results are coalesced, masked entries removed).
    """
    _check_fraction(p, "p")
    if x.layout == torch.sparse_coo:
        xs = x.coalesce()
        nz = (xs.values() != 0).nonzero().view(-1)
        drop = _choose(nz.numel(), int(p * nz.numel()), generator, xs.device)
        keep = torch.ones(xs.values().numel(), dtype=torch.bool, device=xs.device)
        keep[nz[drop]] = False
        return torch.sparse_coo_tensor(xs.indices()[:, keep], xs.values()[keep], xs.shape, check_invariants=False).coalesce()
    if x.layout != torch.strided:
        raise ValueError(f"x must be dense or sparse COO, got {x.layout}")
    flat = x.reshape(-1)
    nz = (flat != 0).nonzero().view(-1)
    drop = _choose(nz.numel(), int(p * nz.numel()), generator, x.device)
    out = flat.clone()
    out[nz[drop]] = 0
    return out.view_as(x)


def metapath_edge_drop(adj: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """``Ã^drop`` of the module docstring.

    Args:
        adj: [N, N] sparse COO pruned meta-path graph ``Ã``.
        p: fraction of the off-diagonal entries to delete.
        generator: source of randomness.

    Returns:
        [N, N] coalesced sparse COO with values 1 (kept entries and the full diagonal).
    """
    _check_fraction(p, "p")
    if adj.layout != torch.sparse_coo or adj.dim() != 2 or adj.size(0) != adj.size(1):
        raise ValueError(f"adj must be a square sparse COO tensor, got {adj.layout} {tuple(adj.shape)}")
    a = adj.coalesce()
    n = a.size(0)
    row, col = a.indices()
    off = ((row != col) & (a.values() != 0)).nonzero().view(-1)
    keep = ~_choose(off.numel(), int(p * off.numel()), generator, a.device)
    kept = off[keep]
    diag = torch.arange(n, device=a.device)
    index = torch.cat([a.indices()[:, kept], torch.stack([diag, diag])], dim=1)
    values = torch.ones(index.size(1), dtype=torch.float32, device=a.device)
    return torch.sparse_coo_tensor(index, values, (n, n), check_invariants=False).coalesce()
