"""Pre-training corpus of molecules from SMILES CSVs, without the fine-tuning set's molecules.

:func:`build_mol_corpus` reads any number of SMILES CSVs (``.csv`` / ``.csv.gz``; the SMILES
column is found as :func:`gcl.data.smiles.find_smiles_column` finds it: ``smiles`` or
``mol``), and returns one :class:`~gcl.data.smiles.MoleculeDataset` with OGB's atom/bond
features:

1. **De-duplication** by RDKit's canonical SMILES (:func:`gcl.data.smiles.build_pretraining_corpus`):
   two spellings of one molecule count once; unparsable SMILES are skipped and counted.
2. **Exclusion of the fine-tuning set** (no transductive leakage). A molecule leaves the
   corpus when (a) its canonical SMILES is one of the target's, read from the target's
   ``mapping/mol.csv.gz`` (OGB's download layout) or given as ``exclude_smiles``, **or** (b)
   its graph key equals a target graph's key. The graph key (:func:`graph_keys`) is a
   64-bit Weisfeiler–Lehman hash of the featurised graph: atom rows as initial colours, bond
   rows on the edges, 4 refinement rounds, the multiset of final colours per graph. Two
   featurisations of the same molecule are isomorphic with equal features, so they always
   get the same key; (b) therefore catches the target's molecules even when no SMILES are
   available (an ``ogbg-mol*`` folder without ``mapping/``). Different molecules share a key
   only when WL cannot tell them apart (rare for molecules) or by a 64-bit hash collision;
   that only removes an extra molecule from the corpus, never leaks one.
3. **Bond-less molecules** (a single ion, ...) are dropped by default: D-SLA's edge
   perturbation has nothing to perturb (``dsla.md``, pitfall 3), and the same corpus serves
   every method so that comparisons stay fair.

The result is cached under ``GCL_CACHE`` (``mol-corpus/<digest>.pt``), written atomically and
read back with ``torch.load(weights_only=True)``; the digest covers every CSV's resolved path,
size and modification time, the target's SMILES and graph keys, and the options.
``limit`` (a seeded random subset, for smoke runs) is applied after the cache.

On the shared MoleculeNet CSVs (bace, clintox, sider, tox21): 11,187 unique valid molecules
(12 SMILES fail to parse), 50 of them bond-less; :attr:`MolCorpus.stats` holds the figures of
a given build (with the target's exclusions).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
from torch import Tensor

from gcl.data.cache import source_fingerprint
from gcl.data.errors import DatasetError
from gcl.data.paths import cache_root, data_roots
from gcl.data.smiles import (
    InvalidSmilesWarning,
    MoleculeDataset,
    build_pretraining_corpus,
    canonical_smiles,
    smiles_to_dataset,
)
from gcl.data.text_bytes import text_buffer
from gcl.utils.atomic import atomic_write

_CACHE_FORMAT = 1
_WL_ROUNDS = 4
_M1, _M2 = 0x5851F42D4C957F2D, 0x14057B7EF767814F  # odd 63-bit multipliers
_PRIME = 1_000_003


# --------------------------------------------------------------------------- graph keys


def _mix(h: Tensor) -> Tensor:
    """A 64-bit mixing function on int64 (wrapping multiply, xor-shift)."""
    h = h ^ (h >> 31)
    h = h * _M1
    h = h ^ (h >> 29)
    h = h * _M2
    return h ^ (h >> 32)


def _row_label(rows: Tensor) -> Tensor:
    """``[R]`` int64 colour of integer feature rows ``[R, F]`` (a polynomial hash, mixed)."""
    rows = rows.long().view(rows.size(0), rows.size(1) if rows.dim() > 1 else 1)
    powers = torch.ones(rows.size(1), dtype=torch.long, device=rows.device)
    for f in range(1, rows.size(1)):
        powers[f] = powers[f - 1] * _PRIME
    return _mix((rows + 1) * powers).sum(1) if rows.size(1) else torch.zeros(
        rows.size(0), dtype=torch.long, device=rows.device)


def graph_keys(
    x: Tensor, edge_index: Tensor, edge_attr: Tensor | None, batch: Tensor, num_graphs: int,
    rounds: int = _WL_ROUNDS,
) -> Tensor:
    """Weisfeiler–Lehman hash of every graph of a batch (module docstring, step 2b).

    Per round, every node's colour becomes ``mix(c_v * M + Σ_{(u, v) ∈ E} mix(c_u * M' + b_uv))``
    (wrapping int64 sums, so the order of nodes and edges does not matter); the graph key is
    ``mix(n_G) + Σ_{v ∈ G} mix(c_v)``. No loop over graphs, nodes or edges.

    Args:
        x: ``[N, F]`` integer atom features.
        edge_index: ``[2, E]`` edges with global node ids (both directions of every bond).
        edge_attr: ``[E, D]`` integer bond features, or ``None``.
        batch: ``[N]`` graph of every node.
        num_graphs: G.
        rounds: refinement rounds.

    Returns:
        ``[G]`` int64 keys; isomorphic graphs with equal features get equal keys.
    """
    colour = _row_label(x)
    bond = _row_label(edge_attr) if edge_attr is not None else torch.zeros(
        edge_index.size(1), dtype=torch.long, device=x.device)
    src, dst = edge_index[0], edge_index[1]
    for _ in range(rounds):
        msg = _mix(colour[src] * _M2 + bond)
        agg = torch.zeros_like(colour).index_add_(0, dst, msg)
        colour = _mix(colour * _M1 + agg)
    n = torch.bincount(batch, minlength=num_graphs)
    return _mix(n) + torch.zeros(num_graphs, dtype=torch.long, device=x.device).index_add_(
        0, batch, _mix(colour))


def dataset_graph_keys(dataset: Any) -> Tensor:
    """:func:`graph_keys` of every graph of a PyG ``InMemoryDataset`` (an OGB dataset or a
    :class:`~gcl.data.smiles.MoleculeDataset`), from its concatenated tensors (edge ids local
    to each graph, as PyG stores them), in the dataset's own order (subsets included)."""
    data, slices = dataset._data, dataset.slices
    counts = slices["x"].diff()
    ecounts = slices["edge_index"].diff()
    g = counts.numel()
    batch = torch.repeat_interleave(torch.arange(g), counts)
    offset = torch.repeat_interleave(slices["x"][:-1], ecounts)
    keys = graph_keys(data.x, data.edge_index + offset, getattr(data, "edge_attr", None), batch, g)
    idx = dataset.indices()
    return keys if isinstance(idx, range) and len(idx) == g else keys[torch.as_tensor(list(idx))]


# --------------------------------------------------------------------------- subsets


def select_molecules(dataset: MoleculeDataset, keep: Tensor) -> MoleculeDataset:
    """A new :class:`MoleculeDataset` of the molecules where ``keep`` ``[G]`` is true (order
    kept), built by slicing the concatenated tensors (no per-molecule loop)."""
    t = dataset.to_tensors()
    keep = keep.bool()
    node_keep = torch.repeat_interleave(keep, t["num_nodes"])
    edge_keep = torch.repeat_interleave(keep, t["num_edges"])
    kept = keep.nonzero().view(-1).tolist()
    return MoleculeDataset(
        x=t["x"][node_keep], edge_index=t["edge_index"][:, edge_keep], edge_attr=t["edge_attr"][edge_keep],
        num_nodes=t["num_nodes"][keep], num_edges=t["num_edges"][keep],
        y=t["y"][keep] if "y" in t else None, smiles=[t["smiles"][i] for i in kept],
        rows=t["rows"][keep], label_names=t["label_names"], source=dataset.source,
        transform=dataset.transform,
    )


class MolCorpus(MoleculeDataset):
    """A pre-training corpus: a :class:`MoleculeDataset` of canonical SMILES with build figures.

    Attributes:
        stats: ``{"files", "invalid", "unique", "excluded_smiles", "excluded_graph_key",
            "bondless", "molecules"}`` (``files``: the CSV paths; the rest counts: unparsable
            SMILES, unique valid molecules, target molecules removed by SMILES and then by graph
            key, bond-less molecules among the rest, molecules kept), plus ``"limit"`` when a
            subset was drawn.
    """

    stats: dict[str, Any]

    @classmethod
    def wrap(cls, ds: MoleculeDataset, stats: dict[str, Any]) -> "MolCorpus":
        out = cls(**ds.to_tensors(), source=ds.source, transform=ds.transform)
        out.stats = dict(stats)
        return out


# --------------------------------------------------------------------------- targets


def target_smiles(dataset: Any) -> list[str] | None:
    """The SMILES of an ``ogbg-mol*`` dataset from ``<root>/mapping/mol.csv.gz`` (OGB's layout),
    or of a :class:`MoleculeDataset`; ``None`` when the dataset carries none."""
    if isinstance(dataset, MoleculeDataset):
        return list(dataset.smiles) or None
    root = getattr(dataset, "root", None)
    if root is None:
        return None
    mapping = Path(root) / "mapping" / "mol.csv.gz"
    if not mapping.is_file():
        return None
    import pandas as pd

    buffer = text_buffer(mapping, compressed=True)  # NUL bytes refused, whatever the pandas version
    try:
        frame = pd.read_csv(buffer, compression=None)
    except (OSError, EOFError, ValueError) as exc:
        raise DatasetError(mapping, f"unreadable SMILES mapping ({type(exc).__name__}: {exc})") from exc
    if "smiles" not in frame.columns:
        raise DatasetError(mapping, f"no 'smiles' column; columns found: {list(frame.columns)}")
    return frame["smiles"].astype(str).tolist()


def default_corpus_files(root: str | os.PathLike | None = None) -> list[Path]:
    """Every ``moleculenet/*.csv`` / ``*.csv.gz`` of the data roots (a file name found in an
    earlier root hides the same name in later roots), sorted by name.

    Raises:
        DatasetError: no data root holds a ``moleculenet/`` CSV.
    """
    found: dict[str, Path] = {}
    roots = data_roots(root)
    for r in roots:
        base = r / "moleculenet"
        if base.is_dir():
            for f in sorted(base.iterdir()):
                if f.is_file() and f.name.lower().endswith((".csv", ".csv.gz")):
                    found.setdefault(f.name, f)
    if not found:
        raise DatasetError(None, "no pre-training corpus: no moleculenet/*.csv in the data roots "
                                 f"({', '.join(map(str, roots)) or 'none'}); pass the CSV paths or set GCL_DATA")
    return [found[k] for k in sorted(found)]


# --------------------------------------------------------------------------- the builder


def _digest(parts: Sequence[Any]) -> str:
    return hashlib.sha1(json.dumps(list(parts), sort_keys=True).encode()).hexdigest()[:16]


def _build(files: list[Path], excluded_canon: set[str], excluded_keys: Tensor,
           drop_bondless: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    stats: dict[str, Any] = {"files": [str(f) for f in files]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InvalidSmilesWarning)
        unique = build_pretraining_corpus(files)
    counts = [re.search(r"skipped (\d+)", str(w.message)) for w in caught
              if issubclass(w.category, InvalidSmilesWarning)]
    stats["invalid"] = sum(int(m.group(1)) for m in counts if m)
    if stats["invalid"]:
        warnings.warn(f"pre-training corpus: skipped {stats['invalid']} SMILES that RDKit cannot parse",
                      InvalidSmilesWarning, stacklevel=3)
    stats["unique"] = len(unique)
    in_target = [s in excluded_canon for s in unique]
    stats["excluded_smiles"] = sum(in_target)
    kept = [s for s, out in zip(unique, in_target) if not out]
    ds = smiles_to_dataset(kept, on_invalid="raise")
    keys = dataset_graph_keys(ds)
    by_key = torch.isin(keys, excluded_keys)
    stats["excluded_graph_key"] = int(by_key.sum())
    keep = ~by_key
    bondless = ds.slices["edge_index"].diff() == 0
    stats["bondless"] = int((bondless & keep).sum())
    if drop_bondless:
        keep &= ~bondless
    ds = select_molecules(ds, keep)
    stats["molecules"] = len(ds)
    return ds.to_tensors(), stats


def build_mol_corpus(
    csv_paths: Iterable[str | os.PathLike] | None = None,
    *,
    exclude: Any | None = None,
    exclude_smiles: Iterable[str] | None = None,
    drop_bondless: bool = True,
    limit: int | None = None,
    seed: int = 0,
    root: str | os.PathLike | None = None,
) -> MolCorpus:
    """The de-duplicated pre-training corpus of ``csv_paths`` without the target's molecules.

    Args:
        csv_paths: SMILES CSVs; default :func:`default_corpus_files` (every MoleculeNet CSV of
            the data roots).
        exclude: the fine-tuning dataset (an ``ogbg-mol*`` dataset object as
            :func:`gcl.data.load` returns it, or a :class:`MoleculeDataset`); its SMILES
            (:func:`target_smiles`) and graph keys (:func:`dataset_graph_keys`) are excluded.
        exclude_smiles: further SMILES to exclude (any spelling).
        drop_bondless: drop molecules without a bond.
        limit: keep a uniformly random subset of this many molecules (seeded by ``seed``;
            order kept), for smoke runs.
        seed: seed of the ``limit`` subset.
        root: data root for the default CSVs.

    Returns:
        A :class:`MolCorpus` (molecules in order of first appearance, canonical SMILES in
        ``.smiles``, build figures in ``.stats``).

    Raises:
        DatasetError: a CSV is missing, unreadable or has no SMILES column; no default CSV.
        OptionalDependencyError: rdkit is not installed (``pip install gcl[chem]``).
        ValueError: ``limit`` < 1.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    files = [Path(p) for p in (csv_paths if csv_paths is not None else default_corpus_files(root))]
    if not files:
        raise ValueError("csv_paths is empty: give at least one SMILES CSV")
    for f in files:
        if not f.is_file():
            raise DatasetError(f, "missing file (expected a CSV with a SMILES column)")
    target = list(exclude_smiles or ())
    if exclude is not None:
        target += target_smiles(exclude) or []
    excluded_canon = {c for c in canonical_smiles(target) if c is not None}
    excluded_keys = torch.unique(dataset_graph_keys(exclude)) if exclude is not None else \
        torch.zeros(0, dtype=torch.long)

    parts = [_CACHE_FORMAT, [[str(f.resolve()), source_fingerprint(f)] for f in files],
             sorted(excluded_canon), excluded_keys.tolist(), drop_bondless]
    cache = cache_root() / "mol-corpus" / f"{_digest(parts)}.pt"
    stored = None
    if cache.is_file():
        try:
            stored = torch.load(cache, weights_only=True)
        except Exception:  # unreadable: rebuilt below
            stored = None
    if not (isinstance(stored, dict) and "tensors" in stored and "stats" in stored):
        tensors, stats = _build(files, excluded_canon, excluded_keys, drop_bondless)
        stored = {"tensors": tensors, "stats": stats}
        with atomic_write(cache) as fh:
            torch.save(stored, fh)
    corpus = MolCorpus.wrap(MoleculeDataset(**stored["tensors"]), stored["stats"])
    if limit is not None and limit < len(corpus):
        g = torch.Generator().manual_seed(seed)
        keep = torch.zeros(len(corpus), dtype=torch.bool)
        keep[torch.randperm(len(corpus), generator=g)[:limit]] = True
        corpus = MolCorpus.wrap(select_molecules(corpus, keep), {**corpus.stats, "limit": limit,
                                                                  "molecules": limit})
    return corpus


__all__ = ["MolCorpus", "build_mol_corpus", "dataset_graph_keys", "default_corpus_files", "graph_keys",
           "select_molecules", "target_smiles"]
