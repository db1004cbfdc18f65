"""Molecules from SMILES CSVs (MoleculeNet / DeepChem layout) as PyG graphs with OGB features.

Layout, relative to a data root::

    moleculenet/bace.csv        SMILES in column ``mol``, label ``Class`` (+ descriptors)
    moleculenet/tox21.csv       column ``smiles``, 12 task columns, ``mol_id``
    moleculenet/clintox.csv     column ``smiles``, tasks ``FDA_APPROVED``, ``CT_TOX``
    moleculenet/sider.csv.gz    column ``smiles``, 27 task columns (gzip)

Any ``*.csv`` or ``*.csv.gz`` under ``moleculenet/`` is a dataset named by its stem in lower
case. Each molecule becomes a PyG ``Data`` with OGB's features (``ogb.utils.smiles2graph``):
``x`` [N, 9] long atom features, ``edge_index`` [2, E] (both directions of every bond),
``edge_attr`` [E, 3] long bond features, and, when labels are requested, ``y`` [1, T] float
with NaN for a missing label; the same encoding as OGB's ``ogbg-mol*`` sets, so OGB's
``AtomEncoder``/``BondEncoder`` apply.

RDKit is the optional extra ``[chem]``: without it, loading raises
:class:`~gcl.data.errors.OptionalDependencyError`. Converting SMILES (one RDKit call per
molecule) is the slow part, so the result is cached (:func:`gcl.data.paths.cache_dir_for`) as
plain tensors (concatenated atoms and bonds plus per-molecule counts), written atomically and
read back with ``torch.load(weights_only=True)``. The cache key covers the file's size and
modification time and the columns read.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from gcl.data.cache import source_fingerprint
from gcl.data.errors import DatasetError, OptionalDependencyError
from gcl.data.paths import cache_dir_for
from gcl.data.registry import Family, register_family
from gcl.data.text_bytes import text_buffer
from gcl.utils.atomic import atomic_write

#: Registry name -> path relative to a data root, for the sets the shared data holds.
MOLECULENET_FILES: dict[str, str] = {
    "bace": "moleculenet/bace.csv",
    "tox21": "moleculenet/tox21.csv",
    "clintox": "moleculenet/clintox.csv",
    "sider": "moleculenet/sider.csv.gz",
}

#: Column names taken as the SMILES column, in order of preference (case-insensitive).
SMILES_COLUMN_NAMES: tuple[str, ...] = ("smiles", "mol")

#: Non-label columns of the MoleculeNet files besides the SMILES column.
_ID_COLUMNS = frozenset({"mol_id"})

_CACHE_FORMAT = 1
_ON_INVALID = ("skip", "raise")


class InvalidSmilesWarning(UserWarning):
    """Some SMILES could not be parsed and were left out."""


# --------------------------------------------------------------------------- rdkit


def _require_rdkit(purpose: str) -> tuple[Any, Any, Callable[[str], dict]]:
    """``(Chem, rdBase, smiles2graph)``, or :class:`OptionalDependencyError` without rdkit."""
    try:
        from rdkit import Chem, rdBase
        from ogb.utils.mol import smiles2graph
    except ImportError as exc:
        raise OptionalDependencyError("rdkit", "chem", purpose) from exc
    return Chem, rdBase, smiles2graph


# --------------------------------------------------------------------------- the dataset


class MoleculeDataset(InMemoryDataset):
    """An in-memory collection of molecular graphs built from plain tensors.

    Indexing gives a PyG ``Data`` per molecule (``x`` [N, 9], ``edge_index`` [2, E] local to
    the molecule, ``edge_attr`` [E, 3], ``y`` [1, T] when labelled); slicing and PyG's
    ``DataLoader`` work as for any ``InMemoryDataset``.

    Args:
        x: [sum N, 9] long, the atoms of all molecules, concatenated.
        edge_index: [2, sum E] long, each molecule's bonds with atom ids local to it.
        edge_attr: [sum E, 3] long.
        num_nodes: [G] atoms per molecule (all > 0).
        num_edges: [G] directed edges per molecule.
        y: optional [G, T] float labels (NaN where missing).
        smiles: the G SMILES strings, as read.
        rows: [G] 0-based data-row index of each molecule in its source file.
        label_names: the T label column names.
        source: the file the molecules were read from, if any.
        transform: applied to each ``Data`` on access.

    Attributes:
        smiles, rows, label_names, source: as given, for the whole collection (an indexed
            subset such as ``dataset[idx]`` shares them; map through ``dataset.indices()``).
    """

    def __init__(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
        num_nodes: torch.Tensor,
        num_edges: torch.Tensor,
        y: torch.Tensor | None = None,
        smiles: Sequence[str] = (),
        rows: torch.Tensor | None = None,
        label_names: Sequence[str] = (),
        source: Path | None = None,
        transform: Callable[[Data], Data] | None = None,
    ):
        super().__init__(None, transform)
        count = int(num_nodes.numel())
        zero = torch.zeros(1, dtype=torch.long)
        node_ptr = torch.cat([zero, num_nodes.long().cumsum(0)])
        edge_ptr = torch.cat([zero, num_edges.long().cumsum(0)])
        data = Data(x=x, edge_index=edge_index, edge_attr=edge_attr)
        slices = {"x": node_ptr, "edge_index": edge_ptr, "edge_attr": edge_ptr}
        if y is not None:
            data.y = y.float().reshape(count, -1)
            slices["y"] = torch.arange(count + 1)
        self.data = data
        self.slices = slices
        self.smiles = list(smiles)
        self.rows = rows if rows is not None else torch.arange(count)
        self.label_names = list(label_names)
        self.source = source

    def __repr__(self) -> str:
        name = self.source.name if self.source is not None else "smiles"
        return f"{type(self).__name__}({name}, {len(self)})"

    def to_tensors(self) -> dict[str, Any]:
        """The plain tensors and lists this dataset is built from (what the cache stores)."""
        data = self._data
        out: dict[str, Any] = {
            "x": data.x,
            "edge_index": data.edge_index,
            "edge_attr": data.edge_attr,
            "num_nodes": self.slices["x"].diff(),
            "num_edges": self.slices["edge_index"].diff(),
            "smiles": self.smiles,
            "rows": self.rows,
            "label_names": self.label_names,
        }
        if "y" in data:
            out["y"] = data.y
        return out


def _graphs_from_smiles(
    smiles: Sequence[Any], purpose: str
) -> tuple[dict[str, torch.Tensor], list[tuple[int, str]]]:
    """Convert SMILES with OGB's ``smiles2graph``; returns the concatenated tensors of the
    valid molecules (plus ``kept``, their positions) and ``(position, reason)`` of the rest."""
    _, rdBase, smiles2graph = _require_rdkit(purpose)
    xs, edges, eattrs, n_nodes, n_edges, kept = [], [], [], [], [], []
    invalid: list[tuple[int, str]] = []
    with rdBase.BlockLogs():  # RDKit would print a parse error per bad SMILES
        for i, s in enumerate(smiles):
            if not isinstance(s, str) or not s.strip():
                invalid.append((i, "missing SMILES"))
                continue
            try:
                graph = smiles2graph(s.strip())
            except Exception:  # RDKit returns no molecule; smiles2graph then fails
                invalid.append((i, "RDKit cannot parse it"))
                continue
            if graph["num_nodes"] == 0:
                invalid.append((i, "no atoms"))
                continue
            xs.append(graph["node_feat"])
            edges.append(graph["edge_index"])
            eattrs.append(graph["edge_feat"])
            n_nodes.append(graph["num_nodes"])
            n_edges.append(graph["edge_index"].shape[1])
            kept.append(i)
    tensors = {
        "x": torch.from_numpy(np.concatenate(xs) if xs else np.zeros((0, 9), np.int64)),
        "edge_index": torch.from_numpy(
            np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), np.int64)
        ),
        "edge_attr": torch.from_numpy(
            np.concatenate(eattrs) if eattrs else np.zeros((0, 3), np.int64)
        ),
        "num_nodes": torch.tensor(n_nodes, dtype=torch.long),
        "num_edges": torch.tensor(n_edges, dtype=torch.long),
        "kept": torch.tensor(kept, dtype=torch.long),
    }
    return tensors, invalid


def smiles_to_dataset(
    smiles: Sequence[str],
    y: np.ndarray | torch.Tensor | None = None,
    *,
    on_invalid: str = "skip",
    transform: Callable[[Data], Data] | None = None,
) -> MoleculeDataset:
    """Build a :class:`MoleculeDataset` from SMILES strings (e.g. a pre-training corpus).

    Args:
        smiles: G SMILES strings.
        y: optional [G] or [G, T] labels (float; NaN for missing).
        on_invalid: ``"skip"`` (leave out unparsable SMILES, with an
            :class:`InvalidSmilesWarning` counting them) or ``"raise"`` (``ValueError``).
        transform: applied to each ``Data`` on access.

    Returns:
        The valid molecules; ``dataset.rows`` are their positions in ``smiles``.
    """
    if on_invalid not in _ON_INVALID:
        raise ValueError(f"on_invalid must be one of {_ON_INVALID}, got {on_invalid!r}")
    smiles = list(smiles)
    tensors, invalid = _graphs_from_smiles(smiles, "building molecular graphs from SMILES")
    if invalid:
        if on_invalid == "raise":
            i, reason = invalid[0]
            raise ValueError(f"invalid SMILES {smiles[i]!r} at position {i} ({reason})")
        warnings.warn(
            f"left out {len(invalid)} of {len(smiles)} SMILES that RDKit cannot parse "
            f"(positions {', '.join(str(i) for i, _ in invalid[:10])}"
            f"{', ...' if len(invalid) > 10 else ''})",
            InvalidSmilesWarning,
            stacklevel=2,
        )
    kept = tensors.pop("kept")
    labels = None
    if y is not None:
        labels = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(len(smiles), -1)[kept]
    return MoleculeDataset(
        **tensors,
        y=labels,
        smiles=[smiles[i] for i in kept.tolist()],
        rows=kept,
        transform=transform,
    )


# --------------------------------------------------------------------------- CSV files


def _read_header(path: Path) -> list[str]:
    import pandas as pd

    if not path.is_file():
        raise DatasetError(path, "missing file (expected a CSV with a SMILES column)")
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(path, "empty file (expected a CSV header with a SMILES column)") from exc
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DatasetError(
            path, f"not a readable CSV, corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from exc


def find_smiles_column(path: Path, columns: Sequence[str], smiles_column: str | None = None) -> str:
    """The SMILES column of a CSV: ``smiles_column`` if given, else ``smiles`` or ``mol``.

    Raises:
        DatasetError: no such column; the message lists the columns found.
    """
    if smiles_column is not None:
        if smiles_column in columns:
            return smiles_column
        expected = repr(smiles_column)
    else:
        lower = {c.lower(): c for c in columns}
        for cand in SMILES_COLUMN_NAMES:
            if cand in lower:
                return lower[cand]
        expected = "one of " + ", ".join(repr(c) for c in SMILES_COLUMN_NAMES)
    shown = ", ".join(repr(c) for c in columns[:30]) + (", ..." if len(columns) > 30 else "")
    raise DatasetError(
        path,
        f"no SMILES column: expected a column named {expected} (or pass smiles_column=...); "
        f"columns found: {shown}",
    )


def _label_columns(
    path: Path,
    name: str | None,
    columns: Sequence[str],
    smiles_col: str,
    labels: bool | Sequence[str],
) -> list[str]:
    if labels is False or labels is None:
        return []
    if labels is True:
        if name == "bace":
            chosen = ["Class"]
        elif name in MOLECULENET_FILES:
            chosen = [c for c in columns if c != smiles_col and c not in _ID_COLUMNS]
        else:
            raise ValueError(
                f"no default label columns for {name or path.name!r}: pass labels=[...] "
                f"(columns: {', '.join(columns)})"
            )
    else:
        chosen = list(labels)
    missing = [c for c in chosen if c not in columns]
    if missing:
        raise DatasetError(
            path,
            f"missing label column(s) {', '.join(map(repr, missing))}; columns found: "
            f"{', '.join(map(repr, columns))}",
        )
    return chosen


def _read_columns(
    path: Path, smiles_col: str, label_cols: list[str]
) -> tuple[list[Any], np.ndarray | None]:
    """The SMILES column (as objects; NaN where empty) and the labels as [rows, T] float32."""
    import pandas as pd

    buffer = text_buffer(path)  # a NUL byte is refused here, whatever the pandas version
    try:
        # Blank lines are kept as rows (reported as missing SMILES) so that row r is line r + 2.
        frame = pd.read_csv(
            buffer, compression=None, usecols=[smiles_col, *label_cols], dtype={smiles_col: str},
            skip_blank_lines=False,
        )
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise DatasetError(
            path, f"not a readable CSV, corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from exc
    blank = frame.isna().all(axis=1).to_numpy()
    trailing = int(np.argmin(blank[::-1])) if not blank.all() else len(frame)
    frame = frame.iloc[: len(frame) - trailing]  # blank lines at the end are no rows
    if len(frame) == 0:
        raise DatasetError(path, "no molecules: the file has a header but no rows")
    y = None
    if label_cols:
        values = []
        for col in label_cols:
            raw = frame[col]
            num = pd.to_numeric(raw, errors="coerce")
            bad = np.flatnonzero(raw.notna().to_numpy() & num.isna().to_numpy())
            if bad.size:
                raise DatasetError(
                    path,
                    f"label column {col!r}: {raw.iloc[bad[0]]!r} is not a number",
                    line=int(bad[0]) + 2,
                )
            values.append(num.to_numpy(dtype=np.float32, na_value=np.nan))
        y = np.stack(values, axis=1)
    return frame[smiles_col].tolist(), y


def _cache_file(path: Path, smiles_col: str, label_cols: list[str]) -> Path:
    """The cache file for ``path`` read with these columns (changes when the CSV changes)."""
    digest = source_fingerprint(path, extra=[_CACHE_FORMAT, smiles_col, label_cols], length=16)
    return cache_dir_for(path, "smiles") / f"{digest}.pt"


def load_smiles_csv(
    path: str | os.PathLike,
    name: str | None = None,
    *,
    smiles_column: str | None = None,
    labels: bool | Sequence[str] = False,
    on_invalid: str = "skip",
    transform: Callable[[Data], Data] | None = None,
) -> MoleculeDataset:
    """Read a SMILES CSV (plain or gzip) into molecular graphs with OGB's atom/bond features.

    Args:
        path: the CSV (``.csv`` or ``.csv.gz``).
        name: registry name; selects the default label columns of ``labels=True``.
        smiles_column: the SMILES column; default: the column named ``smiles`` or ``mol``.
        labels: ``False`` (no ``y``), ``True`` (the set's task columns: bace ``Class``;
            tox21, clintox, sider every column but SMILES and ``mol_id``) or column names.
        on_invalid: ``"skip"``: leave out rows whose SMILES is empty or unparsable, with an
            :class:`InvalidSmilesWarning` counting them; ``"raise"``: :class:`DatasetError`
            naming the file and line.
        transform: applied to each ``Data`` on access.

    Returns:
        A :class:`MoleculeDataset`; ``dataset.rows`` are the 0-based data rows kept (file line
        = row + 2, one line per record; a blank line is a row with a missing SMILES).
        bace: 1513 molecules.

    Raises:
        DatasetError: missing, empty or unreadable file; no SMILES column (the columns found
            are listed); a missing or non-numeric label column; an invalid SMILES under
            ``on_invalid="raise"``.
        OptionalDependencyError: rdkit is not installed.
    """
    if on_invalid not in _ON_INVALID:
        raise ValueError(f"on_invalid must be one of {_ON_INVALID}, got {on_invalid!r}")
    path = Path(path)
    columns = _read_header(path)
    smiles_col = find_smiles_column(path, columns, smiles_column)
    label_cols = _label_columns(path, name, columns, smiles_col, labels)
    _require_rdkit(f"reading molecules from {path.name}")

    cache = _cache_file(path, smiles_col, label_cols)
    stored = _read_cache(cache)
    if stored is None:
        stored = _convert_csv(path, smiles_col, label_cols)
        with atomic_write(cache) as fh:
            torch.save(stored, fh)

    invalid = stored.pop("invalid")
    num_rows = stored.pop("num_rows")
    if invalid:
        if on_invalid == "raise":
            row, smiles, reason = invalid[0]
            raise DatasetError(
                path, f"invalid SMILES {smiles!r} in column {smiles_col!r} ({reason})", line=row + 2
            )
        lines = ", ".join(str(row + 2) for row, _, _ in invalid[:10])
        warnings.warn(
            f"{path}: left out {len(invalid)} of {num_rows} molecules whose SMILES RDKit "
            f"cannot parse (lines {lines}{', ...' if len(invalid) > 10 else ''})",
            InvalidSmilesWarning,
            stacklevel=2,
        )
    return MoleculeDataset(**stored, source=path, transform=transform)


def _convert_csv(path: Path, smiles_col: str, label_cols: list[str]) -> dict[str, Any]:
    smiles, y = _read_columns(path, smiles_col, label_cols)
    tensors, invalid = _graphs_from_smiles(smiles, f"reading molecules from {path.name}")
    kept = tensors.pop("kept")
    stored: dict[str, Any] = {
        **tensors,
        "smiles": [smiles[i] for i in kept.tolist()],
        "rows": kept,
        "label_names": label_cols,
        "invalid": [
            (i, smiles[i] if isinstance(smiles[i], str) else "", why) for i, why in invalid
        ],
        "num_rows": len(smiles),
    }
    if y is not None:
        stored["y"] = torch.from_numpy(y)[kept]
    return stored


def _read_cache(file: Path) -> dict[str, Any] | None:
    """The stored tensors, or ``None`` when absent or unreadable (then rebuilt)."""
    if not file.is_file():
        return None
    try:
        stored = torch.load(file, weights_only=True)
    except Exception:
        return None
    return stored if isinstance(stored, dict) and "x" in stored else None


# --------------------------------------------------------------------------- pre-training corpus


def canonical_smiles(smiles: Iterable[Any]) -> list[str | None]:
    """RDKit's canonical SMILES of each input (``None`` where it cannot be parsed)."""
    Chem, rdBase, _ = _require_rdkit("canonicalising SMILES")
    out: list[str | None] = []
    with rdBase.BlockLogs():
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None
            canon = Chem.MolToSmiles(mol) if mol is not None and mol.GetNumAtoms() else None
            out.append(canon or None)
    return out


def build_pretraining_corpus(
    csv_paths: Iterable[str | os.PathLike],
    exclude_smiles: Iterable[str] | None = None,
    *,
    smiles_column: str | None = None,
) -> list[str]:
    """Unique molecules of several SMILES CSVs, minus a fine-tuning set, for pre-training.

    Molecules are compared by RDKit's canonical SMILES, so two spellings of one molecule
    count once, and a molecule of ``exclude_smiles`` (in any spelling) is left out.
    Unparsable SMILES are skipped with an :class:`InvalidSmilesWarning`.

    Args:
        csv_paths: CSV files (``.csv``/``.csv.gz``) with a SMILES column.
        exclude_smiles: SMILES to leave out (e.g. ``load("bace").smiles``).
        smiles_column: the SMILES column of every file; default ``smiles`` or ``mol``.

    Returns:
        Canonical SMILES in order of first appearance; turn them into graphs with
        :func:`smiles_to_dataset`.
    """
    excluded = {c for c in canonical_smiles(exclude_smiles or ()) if c is not None}
    seen: set[str] = set()
    corpus: list[str] = []
    invalid = 0
    for p in csv_paths:
        path = Path(p)
        column = find_smiles_column(path, _read_header(path), smiles_column)
        smiles, _ = _read_columns(path, column, [])
        for canon in canonical_smiles(smiles):
            if canon is None:
                invalid += 1
            elif canon not in seen and canon not in excluded:
                seen.add(canon)
                corpus.append(canon)
    if invalid:
        warnings.warn(
            f"skipped {invalid} SMILES that RDKit cannot parse", InvalidSmilesWarning, stacklevel=2
        )
    return corpus


# --------------------------------------------------------------------------- registry


def _stem(file_name: str) -> str | None:
    lower = file_name.lower()
    for ext in (".csv.gz", ".csv"):
        if lower.endswith(ext):
            return lower[: -len(ext)]
    return None


def _discover_files(root: Path) -> list[str]:
    base = root / "moleculenet"
    if not base.is_dir():
        return []
    files = sorted(base.iterdir())
    return [f"moleculenet/{f.name}" for f in files if f.is_file() and _stem(f.name)]


def _resolve(name: str, roots: list[Path]) -> str | None:
    """A CSV under ``moleculenet/`` in ``roots`` whose stem is ``name``."""
    for root in roots:
        for rel in _discover_files(root):
            if _stem(rel.split("/")[-1]) == name:
                return rel
    return None


def _discover(root: Path) -> list[str]:
    return [s for rel in _discover_files(root) if (s := _stem(rel.split("/")[-1]))]


register_family(
    Family(
        kind="molecules",
        loader=load_smiles_csv,
        description="SMILES CSV (MoleculeNet layout) as graphs with OGB atom/bond features",
        names=dict(MOLECULENET_FILES),
        resolve=_resolve,
        discover=_discover,
    )
)
