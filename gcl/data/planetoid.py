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

import itertools
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
        deep: also unpickle each pickle (``encoding='latin1'``), parse ``test.index`` and
            check that the files fit together (see :func:`check_consistency`), so a
            truncated, corrupt or inconsistent file is named before PyG reads it.

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
    objects: dict[str, object] = {}
    for suffix, fname in zip(RAW_SUFFIXES, names):
        file = raw_dir / fname
        if file.stat().st_size == 0:
            raise DatasetError(file, "empty file")
        if suffix in _PICKLED:
            try:
                with open(file, "rb") as fh, warnings.catch_warnings():
                    # old pickles name scipy.sparse.csr, which scipy deprecates noisily
                    warnings.simplefilter("ignore", DeprecationWarning)
                    objects[suffix] = pickle.load(fh, encoding="latin1")
            except Exception as exc:  # a truncated pickle raises EOFError, UnpicklingError, ...
                raise DatasetError(
                    file, f"truncated or corrupt pickle ({type(exc).__name__}: {exc})"
                ) from exc
        else:
            objects[suffix] = _read_test_index(file)
    check_consistency(raw_dir, name, objects)


def _read_test_index(file: Path) -> np.ndarray:
    """``test.index``: one non-negative integer a line, every line ended by a newline.

    PyG splits the text on newlines and drops the last piece, so a blank line is fatal to it
    and a last line without its newline would be silently dropped: both are errors here.
    """
    text = file.read_text(encoding="latin1")
    lines = text.split("\n")
    if lines[-1] != "":
        raise DatasetError(
            file, f"the last line {lines[-1][:30]!r} has no line end (truncated file?)", line=len(lines)
        )
    tokens = np.array([line.strip() for line in lines[:-1]], dtype=str)
    if tokens.size == 0:
        raise DatasetError(file, "no node ids (expected one test node id a line)")
    bad = np.flatnonzero(~np.char.isdigit(tokens) | (np.char.str_len(tokens) > 18))
    if bad.size:
        found = lines[bad[0]]
        problem = "blank line" if not found.strip() else f"found {found[:30]!r}"
        raise DatasetError(
            file, f"expected one non-negative node id a line, {problem}", line=int(bad[0]) + 1
        )
    return tokens.astype(np.int64)


def _rows(obj: object) -> int | None:
    """Rows of a 2-D matrix (scipy sparse or NumPy), ``None`` for anything else."""
    shape = getattr(obj, "shape", None)
    return int(shape[0]) if isinstance(shape, tuple) and len(shape) == 2 else None


def check_consistency(raw_dir: Path, name: str, objects: dict[str, object]) -> None:
    """Check that the unpickled Planetoid files fit together as PyG's reader needs.

    ``x``/``tx``/``allx`` are 2-D feature matrices with one column count, ``y``/``ty``/``ally``
    2-D one-hot label matrices with one column count; ``x`` and ``y`` (the labelled nodes),
    ``tx`` and ``ty``, ``allx`` and ``ally`` have equal row counts; ``test.index`` lists one
    id per row of ``tx``, each in ``[len(allx), N)``; ``graph`` maps node ids to lists of
    neighbour ids in ``[0, N)``; and ``N >= len(y) + 500`` (PyG's public split validates on
    the 500 nodes after the labelled ones). ``N = len(allx) + len(tx)``; for CiteSeer, whose
    test ids leave gaps that PyG fills with empty rows, ``N = len(allx) + max - min + 1`` over
    the test ids.

    Args:
        raw_dir: the folder of the files (for the messages).
        name: the dataset name used in the file names.
        objects: suffix (``"x"``, ..., ``"graph"``) -> unpickled object; ``"test.index"`` ->
            int64 array of the ids.

    Raises:
        DatasetError: naming the file that does not fit and why.
    """
    def file(suffix: str) -> Path:
        return raw_dir / f"ind.{name}.{suffix}"

    rows: dict[str, int] = {}
    cols: dict[str, int] = {}
    for suffix in ("x", "tx", "allx", "y", "ty", "ally"):
        obj = objects[suffix]
        r = _rows(obj)
        if r is None:
            raise DatasetError(
                file(suffix),
                f"holds {type(obj).__name__}, expected a 2-D matrix (scipy sparse or NumPy)",
            )
        rows[suffix], cols[suffix] = r, int(obj.shape[1])  # type: ignore[attr-defined]
    for group in (("x", "tx", "allx"), ("y", "ty", "ally")):
        for suffix in group[1:]:
            if cols[suffix] != cols[group[0]]:
                raise DatasetError(
                    file(suffix),
                    f"{cols[suffix]} columns but ind.{name}.{group[0]} has {cols[group[0]]}",
                )
    for feats, labels in (("x", "y"), ("tx", "ty"), ("allx", "ally")):
        if rows[feats] != rows[labels]:
            raise DatasetError(
                file(labels), f"{rows[labels]} rows but ind.{name}.{feats} has {rows[feats]}"
            )

    test = objects["test.index"]
    assert isinstance(test, np.ndarray)
    if test.size != rows["tx"]:
        raise DatasetError(
            file("test.index"), f"{test.size} test ids but ind.{name}.tx has {rows['tx']} rows"
        )
    low = rows["allx"]
    n = low + (int(test.max()) - int(test.min()) + 1 if name == "citeseer" else rows["tx"])
    bad = np.flatnonzero((test < low) | (test >= n))
    if bad.size:
        raise DatasetError(
            file("test.index"),
            f"test node id {int(test[bad[0]])} out of range: test ids follow the {low} rows of "
            f"ind.{name}.allx, so they must lie in [{low}, {n})",
            line=int(bad[0]) + 1,
        )
    if n < rows["y"] + 500:
        raise DatasetError(
            file("y"),
            f"{rows['y']} labelled nodes leave fewer than the 500 validation nodes PyG's public "
            f"split takes after them: the graph has {n} nodes",
        )

    graph = objects["graph"]
    if not isinstance(graph, dict):
        raise DatasetError(file("graph"), f"holds {type(graph).__name__}, expected a dict node -> neighbours")
    try:
        keys = np.fromiter(graph.keys(), dtype=np.int64, count=len(graph))
        degrees = np.fromiter(map(len, graph.values()), dtype=np.int64, count=len(graph))
        neighbours = np.fromiter(
            itertools.chain.from_iterable(graph.values()), dtype=np.int64, count=int(degrees.sum())
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise DatasetError(
            file("graph"), f"expected integer node ids and lists of integer neighbours ({exc})"
        ) from exc
    ids = np.concatenate([keys, neighbours])
    bad = np.flatnonzero((ids < 0) | (ids >= n))
    if bad.size:
        k = int(bad[0])
        if k < keys.size:
            what = f"node id {int(keys[k])} is"
        else:
            owner = int(np.repeat(keys, degrees)[k - keys.size])
            what = f"node {owner} lists neighbour {int(ids[k])}, which is"
        raise DatasetError(
            file("graph"), f"{what} out of range: the graph has {n} nodes (ids 0..{n - 1})"
        )


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
