"""OGB datasets (``ogbg-*``, ``ogbn-*``, ``ogbl-*``) read with OGB's own PyG dataset classes.

Layout, relative to a data root: OGB's download layout under ``ogb/``, one folder per dataset
named as OGB names it (``-`` -> ``_``)::

    ogb/ogbg_molbace/raw/{edge,num-node-list,num-edge-list,node-feat,edge-feat,graph-label}.csv.gz
    ogb/ogbg_molbace/split/scaffold/{train,valid,test}.csv.gz
    ogb/ogbg_molbace/mapping/...                 (optional)
    ogb/ogbg_molbace/RELEASE_v1.txt              (optional here)

Which raw files a dataset needs, and its task and split, come from the ``master.csv`` that ships
inside the ``ogb`` package (see :func:`required_files`); a name not in it cannot be read by OGB's
classes and is reported as such.

Two OGB 1.3.6 behaviours are worked around without touching the user's folder:

* OGB asks on stdin (and deletes the folder if answered yes) when ``RELEASE_v1.txt`` is
  missing, and writes ``processed/`` (and, for ogbn-proteins, renames a raw file) inside the
  folder. So the folder is *mirrored* into a private cache (:func:`gcl.data.paths.cache_dir_for`):
  every file is linked, ``RELEASE_v<version>.txt`` is written in the mirror, and OGB processes
  there inside :func:`gcl.utils.atomic.atomic_directory` (no partial cache survives a crash).
  Missing raw files raise :class:`DatasetError` before OGB would try to download them.
* With torch >= 2.6, OGB's ``torch.load`` of its own processed file fails under the weights-only
  default. Datasets are constructed, and split files read, inside
  ``torch.serialization.safe_globals(OGB_SAFE_GLOBALS)``: the PyG storage classes and NumPy
  array/dtype reconstructors those files hold, and nothing else; no global switch is flipped.

Before OGB processes a folder, its CSV tables are checked by :mod:`gcl.data.ogb_checks`
(OGB casts them unchecked: a fractional or out-of-range id would pass silently), so a bad
table is reported by file and line.

The returned objects are OGB's classes (subclasses that only add the safe loading), so
``get_idx_split()`` / ``get_edge_split()``, ``num_tasks``, ``eval_metric`` work as in OGB.
:func:`evaluator` gives OGB's ``Evaluator`` for a name (offline).
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
from torch_geometric.data.storage import GlobalStorage

from gcl.data.cache import build_cache_dir, mirror_files, source_fingerprint
from gcl.data.errors import DatasetError, MissingDatasetError
from gcl.data.ogb_checks import check_csv_tables
from gcl.data.paths import cache_dir_for, cache_root
from gcl.data.registry import Family, locate, register_family

#: Name prefix -> (OGB sub-package, our class name, OGB's class name).
OGB_KINDS: dict[str, tuple[str, str, str]] = {
    "ogbg": ("graphproppred", "OGBGraphDataset", "PygGraphPropPredDataset"),
    "ogbn": ("nodeproppred", "OGBNodeDataset", "PygNodePropPredDataset"),
    "ogbl": ("linkproppred", "OGBLinkDataset", "PygLinkPropPredDataset"),
}

_NAME_RE = re.compile(r"^ogb[gnl]-[a-z0-9_-]+$", re.IGNORECASE)
_PROCESSED = Path("processed") / "geometric_data_processed.pt"


def _numpy_multiarray() -> Any:
    core = getattr(np, "_core", None)  # NumPy 2 moved np.core to np._core
    return core.multiarray if core is not None else np.core.multiarray


#: Globals that OGB's processed files and split files need under ``torch.load(weights_only=True)``:
#: PyG's ``Data`` attribute/storage classes (processed files); NumPy's array reconstructor,
#: ``ndarray``, ``dtype`` and the concrete bool/int/float dtype classes (link split ``.pt``
#: dicts hold NumPy arrays); NumPy's scalar reconstructor (binary ``data.npz`` sets store
#: ``num_nodes`` as a NumPy integer).
OGB_SAFE_GLOBALS: list[Any] = [
    DataEdgeAttr,
    DataTensorAttr,
    GlobalStorage,
    _numpy_multiarray()._reconstruct,
    _numpy_multiarray().scalar,
    np.ndarray,
    np.dtype,
    *[
        type(np.dtype(t))
        for t in (
            np.bool_, np.int8, np.int16, np.int32, np.int64,
            np.uint8, np.uint16, np.uint32, np.uint64,
            np.float16, np.float32, np.float64,
        )
    ],
]


@contextlib.contextmanager
def ogb_safe_globals() -> Iterator[None]:
    """Allow exactly :data:`OGB_SAFE_GLOBALS` in weights-only ``torch.load`` within the block."""
    with torch.serialization.safe_globals(OGB_SAFE_GLOBALS):
        yield


# --------------------------------------------------------------------------- names and metadata


def _ogb_package_dir() -> Path:
    """The installed ``ogb`` package folder, found without importing ``ogb``.

    (Importing ``ogb`` starts a network check for a newer release; reading names should not.)
    """
    import importlib.util

    spec = importlib.util.find_spec("ogb")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the 'ogb' package is not installed (pip install ogb)")
    return Path(list(spec.submodule_search_locations)[0])


def _ogb_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ogb")
    except PackageNotFoundError:  # pragma: no cover - ogb is a core dependency
        return "(unknown version)"


@functools.cache
def _master(prefix: str) -> Any:
    """OGB's ``master.csv`` for one kind (a pandas DataFrame, one column per dataset)."""
    import pandas as pd

    csv = _ogb_package_dir() / OGB_KINDS[prefix][0] / "master.csv"
    return pd.read_csv(csv, index_col=0, keep_default_na=False)


def _prefix(name: str) -> str:
    prefix = name.split("-", 1)[0].lower()
    if prefix not in OGB_KINDS:
        raise ValueError(f"{name!r} is not an OGB name (ogbg-*, ogbn-* or ogbl-*)")
    return prefix


def known_ogb_names(prefix: str | None = None) -> list[str]:
    """Every dataset name in the installed OGB's ``master.csv`` files (optionally one kind)."""
    prefixes = [prefix] if prefix else list(OGB_KINDS)
    return [n for p in prefixes for n in _master(p).columns]


def canonical_name(name: str) -> str | None:
    """OGB's spelling of ``name`` (``ogbn-papers100m`` -> ``ogbn-papers100M``), or ``None``.

    Accepts any case and ``_`` for ``-``; ``None`` when OGB's ``master.csv`` lacks the name.
    """
    key = name.strip().lower().replace("_", "-")
    prefix = _prefix(key)
    for known in _master(prefix).columns:
        if known.lower() == key:
            return known
    return None


def dir_name(name: str) -> str:
    """OGB's folder name for a dataset: ``-`` -> ``_`` (``ogbg-molbace`` -> ``ogbg_molbace``)."""
    return "_".join(name.split("-"))


def _meta(name: str) -> Any:
    return _master(_prefix(name))[name]


def _not_in_master(path: Path | None, name: str) -> DatasetError:
    prefix = _prefix(name)
    return DatasetError(
        path,
        f"{name!r} is not a dataset the installed OGB {_ogb_version()} knows: OGB's dataset "
        f"classes take the raw file list, task and split of a dataset from the master.csv in "
        f"the ogb package, and it lists only {', '.join(known_ogb_names(prefix))}. Use one of "
        "these names (the folder must be named as OGB names it), or a newer ogb release",
    )


def required_files(name: str) -> list[tuple[str, ...]]:
    """The files a dataset folder needs for OGB to process it without downloading.

    Args:
        name: OGB's name of the dataset (see :func:`canonical_name`).

    Returns:
        One tuple per required file, of alternative paths relative to the dataset folder
        (any one suffices; e.g. ogbn-proteins' ``raw/species.csv.gz`` that OGB renames).
        Split files are included (``split/<type>/{train,valid,test}.csv.gz``, ``.pt`` for
        link sets); a ``split_dict.pt`` stands in for all three. Heterogeneous sets list
        only their top-level raw files.
    """
    meta = _meta(name)
    prefix = _prefix(name)
    binary = meta["binary"] == "True"
    hetero = meta.get("is hetero", "False") == "True"
    label = {"ogbg": "graph-label", "ogbn": "node-label", "ogbl": None}[prefix]

    raw: list[tuple[str, ...]] = []
    if binary:
        raw.append(("edge_index_dict.npz",) if hetero else ("data.npz",))
        if label is not None:
            raw.append((f"{label}.npz",))
    elif hetero:
        raw += [("num-node-dict.csv.gz",), ("triplet-type-list.csv.gz",)]
    else:
        raw += [("edge.csv.gz",), ("num-node-list.csv.gz",), ("num-edge-list.csv.gz",)]
        if meta["has_node_attr"] == "True":
            raw.append(("node-feat.csv.gz",))
        if meta["has_edge_attr"] == "True":
            raw.append(("edge-feat.csv.gz",))
        for column in ("additional node files", "additional edge files"):
            if meta[column] != "None":
                for extra in meta[column].split(","):
                    alternatives = (f"{extra}.csv.gz",)
                    if extra == "node_species":  # ogbn-proteins ships species.csv.gz,
                        alternatives += ("species.csv.gz",)  # which OGB renames
                    raw.append(alternatives)
        if label is not None:
            raw.append((f"{label}.csv.gz",))
    out = [tuple(f"raw/{f}" for f in alts) for alts in raw]

    split = f"split/{meta['split']}"
    if not hetero:
        ext = ".pt" if prefix == "ogbl" else ".csv.gz"
        out += [
            (f"{split}/{part}{ext}", f"{split}/split_dict.pt") for part in ("train", "valid", "test")
        ]
    return out


def check_files(path: Path, name: str) -> None:
    """Raise :class:`DatasetError` naming every required file missing from ``path``."""
    missing = [alts for alts in required_files(name) if not any((path / a).is_file() for a in alts)]
    if missing:
        listed = ", ".join(" or ".join(alts) for alts in missing)
        raise DatasetError(
            path,
            f"missing OGB file(s) for {name}: {listed} (OGB would try to download the dataset; "
            "copy the complete folder from OGB's download, or pass download=True to load_ogb)",
        )


# --------------------------------------------------------------------------- dataset classes


def _safe_split_method(base: type, method_name: str) -> Callable[..., dict]:
    original = getattr(base, method_name)

    def split(self: Any, split_type: str | None = None) -> dict:
        with ogb_safe_globals():
            return original(self, split_type)

    split.__name__ = method_name
    split.__doc__ = original.__doc__
    return split


@functools.cache
def _dataset_classes() -> dict[str, type]:
    """OGB's three PyG dataset classes, each subclassed to read split files weights-only safely.

    Built on first use, so that importing :mod:`gcl.data` does not import OGB (and with it
    scikit-learn and rdkit). The classes are reachable as ``gcl.data.ogb.OGBGraphDataset``,
    ``OGBNodeDataset`` and ``OGBLinkDataset`` (module ``__getattr__``), so they pickle.
    """
    import importlib

    classes: dict[str, type] = {}
    for prefix, (sub, ours, theirs) in OGB_KINDS.items():
        base = getattr(importlib.import_module(f"ogb.{sub}"), theirs)
        split_method = "get_edge_split" if prefix == "ogbl" else "get_idx_split"
        classes[ours] = type(
            ours,
            (base,),
            {
                "__module__": __name__,
                "__qualname__": ours,
                "__doc__": f"OGB's ``{theirs}``; ``{split_method}`` reads split files with "
                "the weights-only-safe globals of :data:`OGB_SAFE_GLOBALS`.",
                split_method: _safe_split_method(base, split_method),
            },
        )
    return classes


def __getattr__(attr: str) -> type:
    """Lazily built dataset classes (PEP 562)."""
    if attr in {ours for _, ours, _ in OGB_KINDS.values()}:
        return _dataset_classes()[attr]
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


# --------------------------------------------------------------------------- loading


def _construct(name: str, root: Path, transform: Callable | None = None) -> Any:
    """Build our subclass of OGB's dataset class for ``name`` with ``root`` as OGB's root."""
    cls = _dataset_classes()[OGB_KINDS[_prefix(name)][1]]
    with ogb_safe_globals(), warnings.catch_warnings():
        # OGB turns read-only label arrays into tensors; harmless, and not ours to fix.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return cls(name=name, root=str(root), transform=transform)


def _mirror_files(folder: Path) -> list[Path]:
    """Files of a dataset folder to mirror, relative to it: all but ``processed/`` and the
    release note (the mirror gets its own)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        rel_dir = Path(dirpath).relative_to(folder)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d != "processed"]
            filenames = [f for f in filenames if not re.match(r"RELEASE_v\d+\.txt$", f)]
        dirnames.sort()
        out += [rel_dir / f for f in sorted(filenames)]
    return out


def _mirror(folder: Path, files: list[Path], target: Path, version: str) -> None:
    """Link every file of ``folder`` into ``target`` (copy where links are unavailable) and
    write the release note OGB looks for, so that OGB never prompts or touches ``folder``."""
    mirror_files(folder, files, target)
    (target / f"RELEASE_v{version}.txt").write_text(
        f"Mirror of {folder} made by gcl.data.ogb; OGB processes the mirror, not the folder.\n"
    )


def _unreadable_file(folder: Path) -> tuple[Path, str] | None:
    """The first raw or split file of ``folder`` that is corrupt, truncated or empty."""
    for sub in ("raw", "split"):
        for f in sorted((folder / sub).rglob("*")):
            if not f.is_file():
                continue
            try:
                if f.name.endswith(".gz"):
                    size = 0
                    with gzip.open(f, "rb") as fh:
                        while chunk := fh.read(1 << 24):
                            size += len(chunk)
                    if size == 0:
                        return f, "empty file (no rows after decompression)"
                elif f.suffix == ".npz":
                    with zipfile.ZipFile(f) as zf:
                        bad = zf.testzip()
                    if bad is not None:
                        return f, f"corrupt member {bad} in the npz"
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                return f, f"truncated or corrupt file ({type(exc).__name__}: {exc})"
    return None


def _processing_error(folder: Path, name: str, exc: BaseException) -> DatasetError:
    bad = _unreadable_file(folder)
    if bad is not None:
        return DatasetError(bad[0], bad[1])
    return DatasetError(
        folder, f"OGB could not process {name} ({type(exc).__name__}: {exc})"
    )


def load_ogb_folder(
    path: Path,
    name: str,
    *,
    transform: Callable | None = None,
    download: bool = False,
) -> Any:
    """Read a local OGB dataset folder with OGB's own class for its kind.

    The folder is only read: OGB processes a mirror of it in the cache (see the module
    docstring); the processed cache is reused while the folder's files are unchanged.

    Args:
        path: the dataset folder in OGB's layout (``ogb/ogbg_molbace``).
        name: the dataset name, any case (``ogbg-molbace``).
        transform: applied to every graph the dataset returns.
        download: ignored here (the folder exists); see :func:`load_ogb`.

    Returns:
        OGB's dataset object (a subclass of ``PygGraphPropPredDataset``,
        ``PygNodePropPredDataset`` or ``PygLinkPropPredDataset``): index it for PyG ``Data``;
        ``get_idx_split()`` (graph, node) or ``get_edge_split()`` (link) gives the split.
        ogbg-molbace: 1513 graphs, ``x`` [N, 9] and ``edge_attr`` [E, 3] long (OGB atom and
        bond features), ``y`` [1, 1]; scaffold split 1210/151/152.

    Raises:
        DatasetError: the name is not in OGB's ``master.csv``, a required file is missing
            (all are named), or a file is corrupt, truncated or empty (named), or a CSV
            table holds a non-numeric token, a short line, an id out of range or counts that
            disagree (file and line named; see :mod:`gcl.data.ogb_checks`, run when the
            processed cache is built).
    """
    del download
    path = Path(path)
    canonical = canonical_name(name)
    if canonical is None:
        raise _not_in_master(path, name)
    if not path.is_dir():
        raise DatasetError(path, f"expected a folder in OGB's layout for {canonical}")
    check_files(path, canonical)
    files = _mirror_files(path)
    dname = dir_name(canonical)
    version = str(_meta(canonical)["version"])

    def build(tmp: Path) -> None:
        check_csv_tables(path, _prefix(canonical), _meta(canonical))
        _mirror(path, files, tmp / dname, version)
        try:
            _construct(canonical, tmp)
        except Exception as exc:
            raise _processing_error(path, canonical, exc) from exc

    cache = build_cache_dir(
        cache_dir_for(path, f"ogb-{dname}-{source_fingerprint(path, files)}"),
        Path(dname) / _PROCESSED,
        build,
    )
    return _construct(canonical, cache, transform)


def load_ogb(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    download: bool = False,
    transform: Callable | None = None,
) -> Any:
    """Load an OGB dataset from the data roots or, when asked, through OGB's own download.

    Args:
        name: an OGB name, any case (``ogbg-molhiv``, ``ogbn-arxiv``, ``ogbl-collab``).
        root: a data root to search instead of ``GCL_DATA`` and the bundled ``datasets/``.
        download: when no data root holds the dataset, let OGB download and process it into
            ``<GCL_CACHE>/ogb-download-<name>/`` (needs internet; OGB itself asks on stdin
            before downloading more than 1 GB). Default ``False``: never download.
        transform: applied to every graph the dataset returns.

    Returns:
        OGB's dataset object, as :func:`load_ogb_folder`.

    Raises:
        MissingDatasetError: no data root holds the dataset and ``download`` is false.
        DatasetError: see :func:`load_ogb_folder`.
    """
    canonical = canonical_name(name)
    if canonical is None:
        raise _not_in_master(None, name)
    try:
        path = locate(canonical, root)
    except MissingDatasetError as exc:
        if not download:
            raise MissingDatasetError(
                None, f"{exc}; or pass download=True to let OGB download it"
            ) from exc
        return _download(canonical, transform)
    return load_ogb_folder(path, canonical, transform=transform)


def _download(name: str, transform: Callable | None) -> Any:
    """OGB's own download and processing, into a cache folder, atomically."""
    dname = dir_name(name)

    def build(tmp: Path) -> None:
        _construct(name, tmp)
        release = tmp / dname / f"RELEASE_v{_meta(name)['version']}.txt"
        if not release.exists():  # so that reloading never prompts
            release.write_text(f"{name} as downloaded by OGB into gcl's cache.\n")

    final = cache_root() / f"ogb-download-{dname}"
    build_cache_dir(final, Path(dname) / _PROCESSED, build)
    return _construct(name, final, transform)


def evaluator(name: str) -> Any:
    """OGB's ``Evaluator`` for dataset ``name`` (works offline).

    Returns:
        ``ogb.graphproppred.Evaluator``, ``ogb.nodeproppred.Evaluator`` or
        ``ogb.linkproppred.Evaluator``; ``evaluator(name).eval(input_dict)`` gives the metric.

    Raises:
        DatasetError: the name is not in OGB's ``master.csv``.
    """
    import importlib

    canonical = canonical_name(name)
    if canonical is None:
        raise _not_in_master(None, name)
    module = importlib.import_module(f"ogb.{OGB_KINDS[_prefix(canonical)][0]}")
    return module.Evaluator(canonical)


# --------------------------------------------------------------------------- registry


def _resolve(name: str, roots: list[Path]) -> str | None:
    if not _NAME_RE.match(name):
        return None
    try:
        canonical = canonical_name(name) or name
    except (OSError, ModuleNotFoundError):
        canonical = name
    return f"ogb/{dir_name(canonical)}"


def _discover(root: Path) -> list[str]:
    base = root / "ogb"
    if not base.is_dir():
        return []
    return sorted(
        d.name.replace("_", "-").lower()
        for d in base.iterdir()
        if d.is_dir() and re.match(r"^ogb[gnl]_", d.name)
    )


register_family(
    Family(
        kind="graph",
        loader=load_ogb_folder,
        description="OGB dataset (ogbg-*, ogbn-*, ogbl-*) in OGB's layout, read by OGB's classes",
        names={"ogbg-molbace": "ogb/ogbg_molbace", "ogbg-molbbbp": "ogb/ogbg_molbbbp"},
        resolve=_resolve,
        discover=_discover,
    )
)
