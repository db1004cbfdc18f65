"""Embeddings of categorical atom and bond features: the OGB and the pretrain-gnns encodings.

A molecule's atoms (and bonds) carry ``F`` integer features; feature ``f`` takes values in
``0 .. dims[f] - 1``. The embedding of a row ``x`` is the sum of one learned vector per feature,

    emb(x) = Σ_f T_f[x_f],      T_f ∈ R^{dims[f] × d},

which is what OGB's ``AtomEncoder``/``BondEncoder`` compute with one ``nn.Embedding`` per feature.
Here the ``F`` tables are stacked into one ``[Σ_f dims[f], d]`` parameter with the same
per-table Xavier-uniform initialisation. **Lookup by feature groups.** Consecutive features are
packed into groups whose joint vocabulary ``Π_{f∈g} dims[f]`` stays at most ``max_group_rows``;
a group's joint table ``J_g[c] = Σ_{f∈g} T_f[c_f]`` (all value combinations, built from the
parameter at every call so gradients reach the ``T_f``) is read at the mixed-radix code
``c = (…(x_{f1} dims[f2] + x_{f2}) dims[f3] + …)``, so

    emb(x) = Σ_g J_g[code_g(x)]

is the same sum with one gather per group instead of one per feature: OGB's 3 bond features
(6 x 6 x 2 with the self-loop type) become a single gather of ``[E, d]``, the 9 atom features
three, and no ``[N, F, d]`` intermediate is stored for the backward pass.

Two encodings are provided:

* **OGB** (``ogb.utils.features``): 9 atom features (:data:`OGB_ATOM_DIMS`) and 3 bond features
  (:data:`OGB_BOND_DIMS`), each vocabulary including OGB's "misc" bucket.
* **pretrain-gnns "2+2"** (Hu et al., 2020, used by D-SLA): atom type (0..118, mask token 119)
  and chirality tag (3 values); bond type (4 types, self-loop token 4, mask token 5) and bond
  direction (3 values). When the vocabularies are sized from the data instead (for example
  OGB's ``x[:, :2]``, whose chirality has 5 values with the misc bucket), pass the sizes and put
  the special tokens after them.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

#: OGB atom feature vocabularies (``ogb.utils.features.get_atom_feature_dims()``):
#: atomic number, chirality, degree, formal charge, #H, #radical e-, hybridisation,
#: aromatic, in ring.
OGB_ATOM_DIMS: tuple[int, ...] = (119, 5, 12, 12, 10, 6, 6, 2, 2)
#: OGB bond feature vocabularies (``get_bond_feature_dims()``): type, stereo, conjugated.
OGB_BOND_DIMS: tuple[int, ...] = (5, 6, 2)

#: pretrain-gnns atom vocabularies: 119 atom types + the mask token; 3 chirality tags.
PRETRAIN_ATOM_DIMS: tuple[int, int] = (120, 3)
#: pretrain-gnns bond vocabularies: 4 bond types + self-loop token + mask token; 3 directions.
PRETRAIN_BOND_DIMS: tuple[int, int] = (6, 3)
#: The atom-type index of pretrain-gnns' mask token.
PRETRAIN_MASK_ATOM: int = 119
#: The bond attributes of the self-loops pretrain-gnns adds in every GIN layer (type 4, dir 0).
PRETRAIN_SELF_LOOP_BOND: tuple[int, int] = (4, 0)
#: The bond-type index of pretrain-gnns' mask token.
PRETRAIN_MASK_BOND: int = 5


def ogb_atom_feature_dims() -> list[int]:
    """OGB's atom vocabularies, read from ``ogb.utils.features`` (equal to :data:`OGB_ATOM_DIMS`)."""
    from ogb.utils.features import get_atom_feature_dims

    return list(get_atom_feature_dims())


def ogb_bond_feature_dims() -> list[int]:
    """OGB's bond vocabularies, read from ``ogb.utils.features`` (equal to :data:`OGB_BOND_DIMS`)."""
    from ogb.utils.features import get_bond_feature_dims

    return list(get_bond_feature_dims())


class CategoricalEmbedding(nn.Module):
    """Sum of per-feature embeddings: ``emb(x) = Σ_f T_f[x[:, f]]``.

    Args:
        feature_dims: vocabulary size of every feature, ``dims[f] >= 1``.
        emb_dim: embedding size d.
        check_range: raise :class:`ValueError` when a value lies outside its vocabulary
            (one device synchronisation per call; with the joint tables an out-of-range value
            would otherwise silently read another row).
        max_group_rows: largest joint vocabulary of a feature group (module docstring); 1
            looks every feature up on its own.

    Shapes:
        x: [N, F] or [N] (F = 1) integer -> [N, d]

    Attributes:
        weight: the stacked ``[Σ_f dims[f], d]`` table; rows ``offsets[f] .. offsets[f] +
            dims[f] - 1`` are ``T_f``.
        offsets: [F] long buffer, the first row of every table.
    """

    def __init__(self, feature_dims: Sequence[int], emb_dim: int, *, check_range: bool = True,
                 max_group_rows: int = 2048):
        super().__init__()
        dims = [int(d) for d in feature_dims]
        if not dims or min(dims) < 1:
            raise ValueError(f"feature_dims must be a non-empty list of positive sizes, got {dims}")
        if emb_dim < 1:
            raise ValueError(f"emb_dim must be >= 1, got {emb_dim}")
        self.feature_dims = tuple(dims)
        self.emb_dim = int(emb_dim)
        self.check_range = check_range
        self.weight = nn.Parameter(torch.empty(sum(dims), emb_dim))
        starts = [0]
        for d in dims[:-1]:
            starts.append(starts[-1] + d)
        self.register_buffer("offsets", torch.tensor(starts, dtype=torch.long), persistent=False)
        self.register_buffer("sizes", torch.tensor(dims, dtype=torch.long), persistent=False)
        self.groups = feature_groups(dims, max_group_rows)
        strides = [0] * len(dims)
        for lo, hi in self.groups:
            step = 1
            for f in range(hi - 1, lo - 1, -1):
                strides[f] = step
                step *= dims[f]
        self.register_buffer("strides", torch.tensor(strides, dtype=torch.long), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform per table (bound ``sqrt(6 / (dims[f] + d))``), as OGB initialises."""
        with torch.no_grad():
            for start, size in zip(self.offsets.tolist(), self.feature_dims):
                bound = math.sqrt(6.0 / (size + self.emb_dim))
                self.weight[start:start + size].uniform_(-bound, bound)

    def table(self, f: int) -> Tensor:
        """``T_f``, the ``[dims[f], d]`` rows of feature ``f`` (a view of :attr:`weight`)."""
        start = int(self.offsets[f])
        return self.weight[start:start + self.feature_dims[f]]

    def joint_table(self, lo: int, hi: int) -> Tensor:
        """``J`` of the features ``lo .. hi - 1``: ``[Π dims, d]``, row ``c`` = ``Σ_f T_f[c_f]``
        with ``c`` in mixed radix, feature ``lo`` the most significant digit."""
        table = self.table(lo)
        for f in range(lo + 1, hi):
            table = (table.unsqueeze(1) + self.table(f).unsqueeze(0)).reshape(-1, self.emb_dim)
        return table

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(1)
        if x.dim() != 2 or x.size(1) != len(self.feature_dims):
            raise ValueError(f"x must have shape [N, {len(self.feature_dims)}], got {tuple(x.shape)}")
        if x.is_floating_point():
            raise ValueError(f"x must hold integer category indices, got dtype {x.dtype}")
        x = x.long()
        if self.check_range and x.numel() and bool(((x < 0) | (x >= self.sizes)).any()):
            bad = ((x < 0) | (x >= self.sizes)).any(0).nonzero().view(-1).tolist()
            raise ValueError(
                f"x holds values outside the vocabulary of feature(s) {bad} "
                f"(sizes {list(self.feature_dims)})"
            )
        coded = x * self.strides
        out = None
        for lo, hi in self.groups:  # a handful of feature groups, never the rows
            code = coded[:, lo:hi].sum(1)
            part = nn.functional.embedding(code, self.joint_table(lo, hi))
            out = part if out is None else out + part
        return out

    def extra_repr(self) -> str:
        return f"feature_dims={list(self.feature_dims)}, emb_dim={self.emb_dim}"


def feature_groups(dims: Sequence[int], max_rows: int) -> list[tuple[int, int]]:
    """Consecutive feature ranges ``[lo, hi)`` packed greedily while ``Π dims[lo:hi] <= max_rows``
    (a feature larger than ``max_rows`` forms its own group)."""
    groups: list[tuple[int, int]] = []
    lo, rows = 0, 1
    for f, d in enumerate(dims):
        if f > lo and rows * d > max_rows:
            groups.append((lo, f))
            lo, rows = f, 1
        rows *= d
    groups.append((lo, len(dims)))
    return groups


class AtomEncoder(CategoricalEmbedding):
    """OGB atom embedding (equal to ``ogb.graphproppred.mol_encoder.AtomEncoder``).

    Args:
        emb_dim: embedding size d.
        feature_dims: vocabularies (default OGB's nine atom features).

    Shapes:
        x: [N, 9] long -> [N, d]
    """

    def __init__(self, emb_dim: int, feature_dims: Sequence[int] | None = None, **kwargs: bool):
        super().__init__(ogb_atom_feature_dims() if feature_dims is None else feature_dims,
                         emb_dim, **kwargs)


class BondEncoder(CategoricalEmbedding):
    """OGB bond embedding (equal to ``ogb.graphproppred.mol_encoder.BondEncoder``).

    Args:
        emb_dim: embedding size d.
        feature_dims: vocabularies (default OGB's three bond features).

    Shapes:
        edge_attr: [E, 3] long -> [E, d]
    """

    def __init__(self, emb_dim: int, feature_dims: Sequence[int] | None = None, **kwargs: bool):
        super().__init__(ogb_bond_feature_dims() if feature_dims is None else feature_dims,
                         emb_dim, **kwargs)


class PretrainAtomEncoder(CategoricalEmbedding):
    """pretrain-gnns atom embedding ``h⁰ = Emb_type(x₀) + Emb_chirality(x₁)``.

    Args:
        emb_dim: embedding size d.
        feature_dims: ``(num_atom_types, num_chirality_tags)``, default ``(120, 3)`` (119 atom
            types + the mask token 119).

    Shapes:
        x: [N, 2] long -> [N, d]
    """

    def __init__(self, emb_dim: int, feature_dims: Sequence[int] = PRETRAIN_ATOM_DIMS,
                 **kwargs: bool):
        if len(feature_dims) != 2:
            raise ValueError(f"feature_dims must be (atom types, chirality tags), got {feature_dims}")
        super().__init__(feature_dims, emb_dim, **kwargs)


class PretrainBondEncoder(CategoricalEmbedding):
    """pretrain-gnns bond embedding ``Emb_type(e₀) + Emb_direction(e₁)`` (one per GIN layer).

    Args:
        emb_dim: embedding size d.
        feature_dims: ``(num_bond_types, num_directions)``, default ``(6, 3)`` (4 bond types,
            the self-loop token 4 and the mask token 5).

    Shapes:
        edge_attr: [E, 2] long -> [E, d]
    """

    def __init__(self, emb_dim: int, feature_dims: Sequence[int] = PRETRAIN_BOND_DIMS,
                 **kwargs: bool):
        if len(feature_dims) != 2:
            raise ValueError(f"feature_dims must be (bond types, directions), got {feature_dims}")
        super().__init__(feature_dims, emb_dim, **kwargs)
