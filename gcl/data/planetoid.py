"""Planetoid citation graphs (Cora, CiteSeer, PubMed) read with PyG's own ``Planetoid`` class.

Layout, relative to a data root::

    planetoid/<Name>/raw/ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}

exactly what :class:`torch_geometric.datasets.Planetoid` reads from ``<root>/<Name>/raw``
(pickles written with Python 2, read with ``encoding='latin1'``; ``test.index`` is text, one
node id a line). Any folder under ``planetoid/`` holding such files is a dataset: its name is
the folder name in lower case (``planetoid/Cora`` -> ``cora``).

PyG writes ``processed/`` next to ``raw/``, and a data root may be read-only, so processing
happens in a private cache folder (:func:`gcl.data.paths.cache_dir_for`) whose ``<Name>/raw``
holds links to (or copies of) the raw files. The cache is built inside
:func:`gcl.utils.atomic.atomic_directory`, so an interrupted run never leaves a half-written
one, and its name carries a fingerprint of the raw files (names, sizes, modification times):
replacing a raw file gives a fresh cache.
"""
from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from torch_geometric.data import Data

from gcl.data.cache import build_cache_dir, mirror_files, processing_errors, source_fingerprint
from gcl.data.errors import DatasetError
from gcl.data.paths import cache_dir_for
from gcl.data.registry import Family, register_family

#: Folder names (under ``planetoid/``) of the three classic sets, keyed by registry name.
PLANETOID_FOLDERS: dict[str, str] = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}

#: Suffixes of the raw files, in the order PyG reads them.
RAW_SUFFIXES: tuple[str, ...] = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")

#: The raw files that are pickles (``test.index`` is text).
_PICKLED = frozenset(RAW_SUFFIXES) - {"test.index"}

_SPLITS = ("public", "full", "random")


def raw_file_names(name: str) -> list[str]:
    """The eight raw file names of Planetoid dataset ``name`` (``ind.<name>.<suffix>``)."""
    return [f"ind.{name.lower()}.{suffix}" for suffix in RAW_SUFFIXES]


def _raw_dir(path: Path, name: str) -> Path:
    """``path/raw``, or ``path`` itself when the ``ind.*`` files lie directly in it."""
    if not (path / "raw").is_dir() and (path / f"ind.{name}.x").exists():
        return path
    return path / "raw"


def check_raw_files(raw_dir: Path, name: str, deep: bool = True) -> None:
    """Check that the raw files of Planetoid dataset ``name`` are present and readable.

    Args:
        raw_dir: the folder holding ``ind.<name>.*``.
        name: the dataset name as used in the file names (lower case).
        deep: also unpickle each pickle (``encoding='latin1'``) and parse ``test.index``,
            so a truncated or corrupt file is named before PyG reads it.

    Raises:
        DatasetError: naming the missing files, or the unreadable one and why.
    """
    names = raw_file_names(name)
    missing = [n for n in names if not (raw_dir / n).is_file()]
    if missing:
        raise DatasetError(
            raw_dir,
            f"missing Planetoid raw file(s): {', '.join(missing)} "
            f"(expected all of {', '.join(names)}, as read by PyG's Planetoid)",
        )
    if not deep:
        return
    for suffix, fname in zip(RAW_SUFFIXES, names):
        file = raw_dir / fname
        if file.stat().st_size == 0:
            raise DatasetError(file, "empty file")
        if suffix in _PICKLED:
            try:
                with open(file, "rb") as fh, warnings.catch_warnings():
                    # old pickles name scipy.sparse.csr, which scipy deprecates noisily
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pickle.load(fh, encoding="latin1")
            except Exception as exc:  # a truncated pickle raises EOFError, UnpicklingError, ...
                raise DatasetError(
                    file, f"truncated or corrupt pickle ({type(exc).__name__}: {exc})"
                ) from exc
        else:
            _check_test_index(file)


def _check_test_index(file: Path) -> None:
    """``test.index`` must hold one non-negative integer a line."""
    lines = file.read_text(encoding="latin1").splitlines()
    tokens = np.array([line.strip() for line in lines], dtype=str)
    bad = np.flatnonzero(~np.char.isdigit(tokens) & (tokens != ""))
    if bad.size:
        line = int(bad[0]) + 1
        raise DatasetError(
            file, f"expected one non-negative node id a line, found {lines[bad[0]]!r}", line=line
        )
    if not (tokens != "").any():
        raise DatasetError(file, "no node ids (expected one test node id a line)")


def load_planetoid(
    path: Path,
    name: str,
    *,
    split: str = "public",
    num_train_per_class: int = 20,
    num_val: int = 500,
    num_test: int = 1000,
    transform: Callable[[Data], Data] | None = None,
) -> Data:
    """Read a Planetoid dataset folder with PyG's ``Planetoid`` class.

    Args:
        path: the dataset folder (``planetoid/<Name>``), holding ``raw/ind.<name>.*``.
        name: registry name (lower case); the file names use the folder name in lower case.
        split: ``"public"`` (the fixed Planetoid split: 20 labels per class, 500 validation
            and 1000 test nodes), ``"full"`` (every node not in validation/test trains) or
            ``"random"`` (drawn with torch's global generator), as in PyG.
        num_train_per_class, num_val, num_test: sizes of a ``"random"`` split.
        transform: applied to the returned graph.

    Returns:
        The graph as PyG ``Data``: ``x`` [N, F] float, ``edge_index`` [2, E] (both directions
        of every undirected edge), ``y`` [N] long, ``train_mask``/``val_mask``/``test_mask``
        [N] bool. Cora: N=2708, E=10556 (5278 undirected), F=1433, 7 classes, 140/500/1000.

    Raises:
        DatasetError: a raw file is missing, empty, truncated or corrupt (named).
        ValueError: an unsupported ``split``.
    """
    from torch_geometric.datasets import Planetoid

    split = split.lower()
    if split not in _SPLITS:
        raise ValueError(
            f"split={split!r} is not supported; use one of {', '.join(_SPLITS)} "
            "(the Geom-GCN splits need extra files this loader does not read)"
        )
    path = Path(path)
    folder = path.name
    file_name = folder.lower()
    raw_dir = _raw_dir(path, file_name)
    check_raw_files(raw_dir, file_name, deep=False)
    raw_names = raw_file_names(file_name)

    def build(tmp: Path) -> None:
        check_raw_files(raw_dir, file_name, deep=True)
        mirror_files(raw_dir, raw_names, tmp / folder / "raw")
        with processing_errors(raw_dir, "PyG's Planetoid could not process the raw files"):
            Planetoid(str(tmp), folder)

    fingerprint = source_fingerprint(raw_dir, raw_names)
    cache = build_cache_dir(
        cache_dir_for(path, f"planetoid-{file_name}-{fingerprint}"),
        Path(folder) / "processed" / "data.pt",
        build,
    )

    dataset = Planetoid(
        str(cache),
        folder,
        split=split,
        num_train_per_class=num_train_per_class,
        num_val=num_val,
        num_test=num_test,
        transform=transform,
    )
    return dataset[0]


def _resolve(name: str, roots: list[Path]) -> str | None:
    """A Planetoid folder in ``roots`` whose lower-case name is ``name``."""
    for root in roots:
        for rel in _discover_folders(root):
            if rel.split("/")[-1].lower() == name:
                return rel
    return None


def _discover_folders(root: Path) -> list[str]:
    base = root / "planetoid"
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.iterdir()):
        key = d.name.lower()
        if d.is_dir() and (_raw_dir(d, key) / f"ind.{key}.x").exists():
            out.append(f"planetoid/{d.name}")
    return out


def _discover(root: Path) -> list[str]:
    return [rel.split("/")[-1].lower() for rel in _discover_folders(root)]


register_family(
    Family(
        kind="node",
        loader=load_planetoid,
        description="Planetoid citation graph (PyG Planetoid raw files), public split masks",
        names={key: f"planetoid/{folder}" for key, folder in PLANETOID_FOLDERS.items()},
        resolve=_resolve,
        discover=_discover,
    )
)
