"""Heterogeneous graphs in the HeCo and MEOW folder layouts, read into a PyG ``HeteroData``.

A folder holds one target node type (the one with labels) and its relations to the other
types, one edge list per relation, named by the two type letters (``pa.txt``: paper -> author,
one ``src dst`` pair of 0-based ids per line, tab or space separated). Beside them:

* ``<t>_feat.npz``: features of type ``t`` (scipy sparse, or one dense array); types without
  such a file get identity (one-hot) features, kept sparse;
* ``labels.npy``: one integer class per target node (MEOW's IMDB counts from 1; shifted to 0);
* ``train_/val_/test_{20,40,60}.npy``: target node ids for each label rate (labels per class).

Pre-computed meta-path files (HeCo's ``pap.npz``/``psp.npz`` are boolean, DBLP's ``aptpa.npz``
is often absent) and the pickled ``nei_*.npy`` neighbour lists are never read: meta-path
adjacencies are rebuilt from the edge lists as *path-count* matrices
``M_p = B_1 B_2 ... B_k`` (for the symmetric meta-paths used here ``M_p = H H^T`` with ``H``
the product over the first half of the path), e.g. ACM ``M_PAP = B_PA B_PA^T`` with nnz 57,853
and largest count 21. Those counts are what PathSim and MEOW's weighting need.

What :func:`load_hetero` returns (``T`` = target type, ``N`` = its node count):

* ``data[t].x``: ``(n_t, F_t)`` float32 torch sparse COO (coalesced) features for every node type
  (``dense_features=True`` densifies file features; identity features always stay sparse);
  ``data[t].featureless`` is ``True`` where ``x`` is the identity; ``data[t].num_nodes``;
* ``data[src, 'to', dst].edge_index``: ``(2, E)`` int64 for every relation file and its
  reverse ``data[dst, 'to', src]``;
* ``data[T].y``: ``(N,)`` int64 classes counted from 0;
* ``data[T].train_idx_<r>``, ``val_idx_<r>``, ``test_idx_<r>``: int64 node ids for label rate
  ``r`` (see :func:`get_split`); ``data.label_rates``: the rates present;
* ``data.target_type``: ``T``; ``data.type_letters``: type letter -> node type name
  (``{"p": "paper", ...}``); ``data.num_classes``; ``data.name``;
* ``data.metapaths``: a :class:`MetaPathCounts` giving the ``(N, N)`` int64 scipy CSR
  path-count matrix of each meta-path by name (``data.metapaths['PAP']``), computed on first
  access.

Duplicate ids in a split file (MEOW's IMDB ``train_40`` holds 119 distinct ids out of 120,
``train_60`` 175 out of 180) are removed with a :class:`DuplicateSplitWarning`, keeping the
first occurrence and the file's order; ``faithful=True`` keeps them as the original code did.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from gcl.data.errors import DatasetError
from gcl.data.registry import Family, register_family

__all__ = [
    "DuplicateSplitWarning",
    "HeteroSchema",
    "MetaPathCounts",
    "SCHEMAS",
    "get_split",
    "incidence_matrix",
    "load_hetero",
    "metapath_counts",
    "read_edge_list",
]


class DuplicateSplitWarning(UserWarning):
    """A split file lists the same node id more than once (the duplicates were removed)."""


@dataclass(frozen=True)
class HeteroSchema:
    """The layout of one heterogeneous dataset folder.

    Args:
        name: dataset name (``"acm"``).
        target: letter of the labelled node type (``"p"``).
        node_types: type letter -> node type name (``{"p": "paper", "a": "author"}``).
        relations: edge-list file stems, each two type letters, source first (``"pa"`` is
            ``pa.txt`` with ``paper author`` pairs).
        metapaths: meta-path names in upper-case letters (``"PAP"``, ``"APCPA"``); every
            consecutive letter pair must be a relation (either direction).
        feature_files: type letters whose ``<t>_feat.npz`` must exist; other types use the
            file when present and identity features otherwise.
        num_nodes: node counts of the upstream release, by type name; used only for types
            whose count no file fixes (no feature file, not the target).
        label_offset: the first class id in ``labels.npy`` (1 for MEOW's IMDB).
        label_rates: labelled nodes per class with a ``train_/val_/test_<r>.npy`` triple.
    """

    name: str
    target: str
    node_types: Mapping[str, str]
    relations: tuple[str, ...]
    metapaths: tuple[str, ...]
    feature_files: tuple[str, ...] = ()
    num_nodes: Mapping[str, int] = field(default_factory=dict)
    label_offset: int = 0
    label_rates: tuple[int, ...] = (20, 40, 60)

    @property
    def target_type(self) -> str:
        """The node type name of the labelled nodes."""
        return self.node_types[self.target]


SCHEMAS: dict[str, HeteroSchema] = {
    "acm": HeteroSchema(
        name="acm",
        target="p",
        node_types={"p": "paper", "a": "author", "s": "subject"},
        relations=("pa", "ps"),
        metapaths=("PAP", "PSP"),
        feature_files=("p", "a"),
        num_nodes={"paper": 4019, "author": 7167, "subject": 60},
    ),
    "dblp": HeteroSchema(
        name="dblp",
        target="a",
        node_types={"a": "author", "p": "paper", "c": "conference", "t": "term"},
        relations=("pa", "pc", "pt"),
        metapaths=("APA", "APCPA", "APTPA"),
        feature_files=("a", "p", "t"),
        num_nodes={"author": 4057, "paper": 14328, "term": 7723, "conference": 20},
    ),
    "aminer": HeteroSchema(
        name="aminer",
        target="p",
        node_types={"p": "paper", "a": "author", "r": "reference"},
        relations=("pa", "pr"),
        metapaths=("PAP", "PRP"),
        num_nodes={"paper": 6564, "author": 13329, "reference": 35890},
    ),
    "freebase": HeteroSchema(
        name="freebase",
        target="m",
        node_types={"m": "movie", "d": "director", "a": "actor", "w": "writer"},
        relations=("ma", "md", "mw"),
        metapaths=("MAM", "MDM", "MWM"),
        num_nodes={"movie": 3492, "director": 2502, "actor": 33401, "writer": 4459},
    ),
    "imdb": HeteroSchema(
        name="imdb",
        target="m",
        node_types={"m": "movie", "a": "actor", "d": "director", "k": "keyword"},
        relations=("ma", "md", "mk"),
        metapaths=("MAM", "MDM", "MKM"),
        feature_files=("m",),
        num_nodes={"movie": 4275, "actor": 5432, "director": 2083, "keyword": 7313},
        label_offset=1,
    ),
}


# --------------------------------------------------------------------------- file readers


_INT64_LIMIT = 2.0**63  # ids at or beyond this do not fit in int64


def _content_lines(text: str) -> list[int]:
    """1-based numbers of the lines ``np.loadtxt`` reads as rows (not blank, not comments)."""
    return [
        i
        for i, line in enumerate(text.splitlines(), start=1)
        if line.split("#", 1)[0].strip()
    ]


def _diagnose_edge_text(path: Path, text: str) -> DatasetError:
    """Find the first malformed line of an edge list (error path only)."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        if len(tokens) != 2:
            return DatasetError(
                path, f"expected 2 columns (source id, target id), found {len(tokens)}", lineno
            )
        for tok in tokens:
            try:
                value = float(tok)
            except ValueError:
                return DatasetError(path, f"expected integer node ids, found {tok!r}", lineno)
            if not np.isfinite(value) or value != np.floor(value):
                return DatasetError(path, f"expected integer node ids, found {tok!r}", lineno)
            if abs(value) >= _INT64_LIMIT:
                return DatasetError(path, f"node id {tok[:30]!r} is too large", lineno)
    return DatasetError(path, "could not parse as an edge list of integer id pairs")


def read_edge_list(path: str | os.PathLike) -> np.ndarray:
    """Read a whitespace-separated edge list of 0-based integer id pairs.

    Args:
        path: a text file with one ``src dst`` pair per line (tab or space separated;
            blank lines and ``#`` comments are skipped; ``3.0``-style integral floats pass).

    Returns:
        ``(E, 2)`` int64 array.

    Raises:
        DatasetError: missing or empty file, a line without exactly two columns, a
            non-integer or negative id (with its line number).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise DatasetError(path, "missing edge list file") from err
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(path, f"cannot read edge list as text: {err}") from err
    rows = _content_lines(text)
    if not rows:
        raise DatasetError(path, "empty edge list: expected one 'source target' id pair per line")
    try:
        edges = np.loadtxt(io.StringIO(text), dtype=np.int64, ndmin=2)
    except ValueError:
        try:  # integral ids written as floats ('12.0')
            as_float = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2)
        except ValueError as err:
            raise _diagnose_edge_text(path, text) from err
        if (not np.all(np.isfinite(as_float)) or np.any(as_float != np.floor(as_float))
                or np.any(np.abs(as_float) >= _INT64_LIMIT)):  # no silent wrap-around in the cast
            raise _diagnose_edge_text(path, text) from None
        edges = as_float.astype(np.int64)
    if edges.shape[1] != 2:
        raise DatasetError(
            path, f"expected 2 columns (source id, target id), found {edges.shape[1]}", rows[0]
        )
    negative = np.flatnonzero((edges < 0).any(axis=1))
    if negative.size:
        r = int(negative[0])
        raise DatasetError(path, f"negative node id in {edges[r].tolist()}", rows[r])
    return edges


def _check_edge_range(path: Path, edges: np.ndarray, column: int, n: int, type_name: str) -> None:
    """Raise naming the first line whose id in ``column`` is ``>= n``."""
    bad = np.flatnonzero(edges[:, column] >= n)
    if bad.size:
        r = int(bad[0])
        lines = _content_lines(path.read_text())
        raise DatasetError(
            path,
            f"{type_name} id {int(edges[r, column])} out of range: {type_name} ids must be "
            f"in [0, {n}) ({bad.size} such edge(s))",
            lines[r],
        )


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError as err:
        raise DatasetError(path, "missing file") from err
    except Exception as err:  # truncated header/data, pickled object array, not an .npy
        raise DatasetError(path, f"cannot read .npy array (truncated or corrupt?): {err}") from err


def _load_features(path: Path) -> sp.csr_matrix:
    """Features from ``<t>_feat.npz``: a scipy sparse matrix or a single dense 2-D array."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if "format" in names:
                matrix = sp.load_npz(path).tocsr()
            elif len(names) == 1:
                dense = np.asarray(archive[names[0]])
                if dense.ndim != 2:
                    raise DatasetError(
                        path, f"expected a 2-D feature array, found shape {dense.shape}"
                    )
                matrix = sp.csr_matrix(dense)
            else:
                raise DatasetError(
                    path, f"expected a scipy sparse matrix or one array, found arrays {names}"
                )
    except DatasetError:
        raise
    except FileNotFoundError as err:
        raise DatasetError(path, "missing feature file") from err
    except Exception as err:  # bad zip, CRC or zlib error, truncated member, wrong keys
        raise DatasetError(
            path, f"cannot read .npz features (truncated or corrupt?): {err}"
        ) from err
    if not np.all(np.isfinite(matrix.data)):
        raise DatasetError(path, "features contain NaN or infinite values")
    return matrix


# --------------------------------------------------------------------------- meta-paths


def incidence_matrix(edges: np.ndarray, num_src: int, num_dst: int) -> sp.csr_matrix:
    """Count incidence ``B[s, d]`` = number of ``(s, d)`` rows in ``edges``.

    Args:
        edges: ``(E, 2)`` int ids, already range-checked.
        num_src, num_dst: node counts of the two types.

    Returns:
        ``(num_src, num_dst)`` int64 CSR (repeated edges add up).
    """
    ones = np.ones(edges.shape[0], dtype=np.int64)
    matrix = sp.csr_matrix((ones, (edges[:, 0], edges[:, 1])), shape=(num_src, num_dst))
    matrix.sum_duplicates()
    return matrix


def metapath_counts(metapath: str, incidences: Mapping[str, sp.csr_matrix]) -> sp.csr_matrix:
    """Path-count matrix of a meta-path, as sparse products of relation incidences.

    Args:
        metapath: upper-case type letters, e.g. ``"APCPA"``.
        incidences: relation stem (``"pa"``) -> incidence matrix (rows: first letter's type).
            A step ``X -> Y`` uses ``incidences["xy"]`` or the transpose of ``incidences["yx"]``.

    Returns:
        ``(n_X, n_Z)`` int64 CSR whose entry ``(i, j)`` counts the path instances from ``i``
        to ``j``. A symmetric meta-path is computed as ``H H^T`` over its first half.
    """
    letters = metapath.lower()
    if len(letters) < 2:
        raise ValueError(f"meta-path {metapath!r} needs at least two node types")

    def step(a: str, b: str) -> sp.csr_matrix:
        if a + b in incidences:
            return incidences[a + b]
        if b + a in incidences:
            return incidences[b + a].T.tocsr()
        raise ValueError(f"meta-path {metapath!r}: no relation between {a!r} and {b!r}")

    def chain(path: str) -> sp.csr_matrix:
        product = step(path[0], path[1])
        for a, b in zip(path[1:-1], path[2:]):
            product = product @ step(a, b)
        return product.tocsr()

    if len(letters) >= 3 and letters == letters[::-1]:
        half = chain(letters[: len(letters) // 2 + 1])
        result = (half @ half.T).tocsr()
    else:
        result = chain(letters)
    result = result.astype(np.int64)
    result.sum_duplicates()
    result.eliminate_zeros()
    result.sort_indices()
    return result


class MetaPathCounts:
    """Path-count matrices of a dataset's meta-paths, built from the edge lists on first use.

    ``counts['PAP']`` is an ``(N, N)`` int64 scipy CSR matrix over the target nodes. Not a
    ``Mapping`` on purpose: PyG's ``data.to(device)`` walks mappings, which would build
    every matrix.

    Args:
        target: node type name the meta-paths start and end at (``"paper"``).
        names: meta-path names (``("PAP", "PSP")``).
        incidences: relation stem -> incidence matrix, as in :func:`metapath_counts`.
    """

    def __init__(
        self, target: str, names: tuple[str, ...], incidences: Mapping[str, sp.csr_matrix]
    ) -> None:
        self.target = target
        self.names = tuple(names)
        self._incidences = dict(incidences)
        self._cache: dict[str, sp.csr_matrix] = {}

    def __getitem__(self, name: str) -> sp.csr_matrix:
        if name not in self.names:
            raise KeyError(f"unknown meta-path {name!r}; this dataset has {', '.join(self.names)}")
        if name not in self._cache:
            self._cache[name] = metapath_counts(name, self._incidences)
        return self._cache[name]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def path_counts(self, path: str) -> sp.csr_matrix:
        """Path counts along any chain of the dataset's relations (``"PA"``, ``"APC"``), not
        only the registered meta-paths; ``(n_first, n_last)`` int64 CSR, not cached."""
        return metapath_counts(path, self._incidences)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def keys(self) -> tuple[str, ...]:
        return self.names

    def items(self) -> Iterator[tuple[str, sp.csr_matrix]]:
        """``(name, matrix)`` pairs, building each matrix as it is reached."""
        return ((name, self[name]) for name in self.names)

    def to_torch(
        self, name: str, dtype: torch.dtype = torch.float32, layout: torch.layout = torch.sparse_coo
    ) -> Tensor:
        """One matrix as a torch sparse tensor: coalesced ``sparse_coo`` or ``sparse_csr``."""
        return _scipy_to_torch(self[name], dtype, layout)

    def __repr__(self) -> str:
        return f"MetaPathCounts(target={self.target!r}, names={list(self.names)})"


def _scipy_to_torch(
    matrix: sp.spmatrix, dtype: torch.dtype = torch.float32, layout: torch.layout = torch.sparse_coo
) -> Tensor:
    """A scipy matrix as a torch sparse COO (coalesced) or CSR tensor."""
    csr = sp.csr_matrix(matrix, copy=True)
    csr.sum_duplicates()
    csr.sort_indices()
    if layout == torch.sparse_coo:
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
        index = torch.from_numpy(np.vstack([rows, csr.indices.astype(np.int64)]))
        values = torch.from_numpy(csr.data).to(dtype)
        return torch.sparse_coo_tensor(
            index, values, csr.shape, is_coalesced=True, check_invariants=False
        )
    if layout == torch.sparse_csr:
        return torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr.astype(np.int64)),
            torch.from_numpy(csr.indices.astype(np.int64)),
            torch.from_numpy(csr.data).to(dtype),
            size=csr.shape,
            check_invariants=False,
        )
    raise ValueError(f"layout must be torch.sparse_coo or torch.sparse_csr, got {layout}")


def _identity_features(n: int) -> Tensor:
    """``(n, n)`` float32 sparse COO identity: one-hot features of a featureless type."""
    index = torch.arange(n, dtype=torch.int64).expand(2, n)
    return torch.sparse_coo_tensor(
        index, torch.ones(n), (n, n), is_coalesced=True, check_invariants=False
    )


# --------------------------------------------------------------------------- labels and splits


def _read_labels(path: Path, offset: int) -> np.ndarray:
    raw = _load_npy(path)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise DatasetError(path, f"expected a 1-D array of class ids, found shape {raw.shape}")
    if raw.size == 0:
        raise DatasetError(path, "empty label array")
    if not np.issubdtype(raw.dtype, np.number) or np.issubdtype(raw.dtype, np.complexfloating):
        raise DatasetError(path, f"expected integer class ids, found dtype {raw.dtype}")
    if np.issubdtype(raw.dtype, np.floating) and (
        not np.all(np.isfinite(raw)) or np.any(raw != np.floor(raw))
    ):
        raise DatasetError(path, "expected integer class ids, found non-integral values")
    labels = raw.astype(np.int64) - offset
    if labels.min() < 0:
        raise DatasetError(
            path, f"class id {int(labels.min()) + offset} below the first class id {offset}"
        )
    return labels


def _read_split(path: Path, num_target: int, faithful: bool) -> np.ndarray:
    ids = _load_npy(path)
    if ids.ndim != 1:
        raise DatasetError(path, f"expected a 1-D array of node ids, found shape {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise DatasetError(path, f"expected integer node ids, found dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    bad = np.flatnonzero((ids < 0) | (ids >= num_target))
    if bad.size:
        raise DatasetError(
            path,
            f"node id {int(ids[bad[0]])} (position {int(bad[0])}) out of range: target ids "
            f"must be in [0, {num_target})",
        )
    _, first = np.unique(ids, return_index=True)
    if first.size != ids.size and not faithful:
        warnings.warn(
            f"{path}: {ids.size - first.size} duplicate node id(s) removed "
            f"({first.size} distinct of {ids.size}); pass faithful=True to keep them",
            DuplicateSplitWarning,
            stacklevel=4,
        )
        ids = ids[np.sort(first)]
    return ids


def get_split(data: HeteroData, rate: int) -> tuple[Tensor, Tensor, Tensor]:
    """The ``(train, val, test)`` target node ids of one label rate.

    Args:
        data: a graph from :func:`load_hetero`.
        rate: labelled nodes per class (20, 40 or 60).

    Returns:
        Three int64 tensors of node ids of ``data.target_type``.
    """
    store = data[data.target_type]
    key = f"train_idx_{rate}"
    if key not in store:
        raise KeyError(f"no split for label rate {rate}; available: {list(data.label_rates)}")
    return store[key], store[f"val_idx_{rate}"], store[f"test_idx_{rate}"]


# --------------------------------------------------------------------------- the loader


def _missing_files(folder: Path, schema: HeteroSchema) -> list[str]:
    required = ["labels.npy"]
    required += [f"{rel}.txt" for rel in schema.relations]
    required += [f"{t}_feat.npz" for t in schema.feature_files]
    required += [
        f"{part}_{rate}.npy" for rate in schema.label_rates for part in ("train", "val", "test")
    ]
    return [name for name in required if not (folder / name).is_file()]


def load_hetero(
    path: str | os.PathLike,
    schema: HeteroSchema | str,
    *,
    faithful: bool = False,
    num_nodes: Mapping[str, int] | None = None,
    dense_features: bool = False,
) -> HeteroData:
    """Read a HeCo/MEOW-layout folder into a ``HeteroData`` (see the module docstring).

    Args:
        path: the dataset folder (``.../hetero/heco/acm``).
        schema: a :class:`HeteroSchema` or the name of one in :data:`SCHEMAS`.
        faithful: keep duplicate ids in split files (default: drop them with a warning).
        num_nodes: node counts by type name for types without a feature file (overrides the
            schema's upstream counts; the target's count always comes from ``labels.npy``).
        dense_features: return file features as dense tensors instead of sparse COO.

    Returns:
        The graph with features, both directions of every relation, labels, splits and
        lazily built meta-path count matrices in ``data.metapaths``.

    Raises:
        DatasetError: a missing file (all missing ones are named), a truncated or corrupt
            ``.npy``/``.npz``, an empty or malformed edge list, an id out of range (file and
            line), or row counts that disagree between labels and features.
    """
    folder = Path(path)
    if isinstance(schema, str):
        schema = SCHEMAS[schema]
    if not folder.is_dir():
        raise DatasetError(folder, "expected a dataset folder in the HeCo layout")
    missing = _missing_files(folder, schema)
    if missing:
        raise DatasetError(folder, f"missing file(s): {', '.join(missing)}")
    overrides = dict(num_nodes or {})
    unknown = set(overrides) - set(schema.node_types.values())
    if unknown:
        raise ValueError(f"num_nodes names unknown node types {sorted(unknown)}")

    labels_path = folder / "labels.npy"
    labels = _read_labels(labels_path, schema.label_offset)
    counts: dict[str, int] = {schema.target: labels.size}
    target_count = overrides.get(schema.target_type, labels.size)
    if target_count != labels.size:
        raise DatasetError(
            labels_path,
            f"{labels.size} labels but num_nodes[{schema.target_type!r}] = {target_count}",
        )

    # Features fix the counts of their types.
    features: dict[str, sp.csr_matrix] = {}
    for letter, type_name in schema.node_types.items():
        feat_path = folder / f"{letter}_feat.npz"
        if not feat_path.is_file():
            continue
        matrix = _load_features(feat_path)
        features[letter] = matrix
        if letter == schema.target and matrix.shape[0] != labels.size:
            raise DatasetError(
                feat_path,
                f"{matrix.shape[0]} feature rows but labels.npy has {labels.size} labels "
                f"(one row per {type_name} expected)",
            )
        if type_name in overrides and overrides[type_name] != matrix.shape[0]:
            raise DatasetError(
                feat_path,
                f"{matrix.shape[0]} feature rows but num_nodes[{type_name!r}] = "
                f"{overrides[type_name]}",
            )
        counts[letter] = matrix.shape[0]

    # Edge lists; featureless types take their count from num_nodes, the schema or the ids.
    edges = {rel: read_edge_list(folder / f"{rel}.txt") for rel in schema.relations}
    for letter, type_name in schema.node_types.items():
        if letter in counts:
            continue
        if type_name in overrides:
            counts[letter] = int(overrides[type_name])
        elif type_name in schema.num_nodes:
            counts[letter] = int(schema.num_nodes[type_name])
        else:
            largest = [
                int(e[:, col].max())
                for rel, e in edges.items()
                for col in (0, 1)
                if rel[col] == letter
            ]
            counts[letter] = max(largest) + 1 if largest else 0
    for rel, e in edges.items():
        for col in (0, 1):
            letter = rel[col]
            _check_edge_range(
                folder / f"{rel}.txt", e, col, counts[letter], schema.node_types[letter]
            )

    data = HeteroData()
    for letter, type_name in schema.node_types.items():
        store = data[type_name]
        store.num_nodes = counts[letter]
        if letter in features:
            matrix = features[letter]
            store.x = (
                torch.from_numpy(matrix.toarray()).float()
                if dense_features
                else _scipy_to_torch(matrix, torch.float32)
            )
            store.featureless = False
        else:
            store.x = _identity_features(counts[letter])
            store.featureless = True

    incidences: dict[str, sp.csr_matrix] = {}
    for rel, e in edges.items():
        src, dst = schema.node_types[rel[0]], schema.node_types[rel[1]]
        edge_index = torch.from_numpy(np.ascontiguousarray(e.T))
        data[src, "to", dst].edge_index = edge_index
        data[dst, "to", src].edge_index = edge_index.flip(0)
        incidences[rel] = incidence_matrix(e, counts[rel[0]], counts[rel[1]])

    target = schema.target_type
    data[target].y = torch.from_numpy(labels)
    for rate in schema.label_rates:
        for part in ("train", "val", "test"):
            ids = _read_split(folder / f"{part}_{rate}.npy", labels.size, faithful)
            data[target][f"{part}_idx_{rate}"] = torch.from_numpy(ids)

    data.name = schema.name
    data.target_type = target
    data.type_letters = dict(schema.node_types)
    data.num_classes = int(labels.max()) + 1
    data.label_rates = tuple(schema.label_rates)
    data.metapaths = MetaPathCounts(target, schema.metapaths, incidences)
    return data


# --------------------------------------------------------------------------- registration


def _load_registered(path: Path, name: str, **kwargs) -> HeteroData:
    return load_hetero(path, SCHEMAS[name], **kwargs)


register_family(
    Family(
        kind="hetero",
        loader=_load_registered,
        description="HeCo heterogeneous graph (HeteroData, meta-path counts, 20/40/60 splits)",
        names={name: f"hetero/heco/{name}" for name in ("acm", "dblp", "aminer", "freebase")},
    )
)
register_family(
    Family(
        kind="hetero",
        loader=_load_registered,
        description="MEOW heterogeneous graph (HeteroData, meta-path counts, 20/40/60 splits)",
        names={"imdb": "hetero/meow/imdb"},
    )
)
