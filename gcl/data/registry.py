"""The dataset registry: ``gcl.data.load(name, root=None)`` and ``gcl datasets``.

A *family* is one upstream file layout (Planetoid, OGB, HeCo, ...). It knows which names it
serves, where a dataset of that name lives relative to a data root, and how to read it.
Families with open-ended names (``ogbg-*``, any ``seqrec/<Name>.txt``) also discover what a
root holds, so ``gcl datasets`` lists a user's own copies beside the bundled ones.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from gcl.data.errors import MissingDatasetError, UnknownDatasetError
from gcl.data.paths import data_roots

Loader = Callable[..., Any]


@dataclass
class Family:
    """One file layout and the datasets that come in it.

    Args:
        kind: what the loader returns (``node``, ``graph``, ``hetero``, ``interactions``,
            ``sequences``, ``molecules``).
        loader: ``loader(path, name, **kwargs)`` reading the dataset at ``path``.
        names: fixed names mapped to their path relative to a root.
        resolve: for open-ended families, ``resolve(name, roots) -> relative path or None``
            (``roots``: the data roots being searched, in order).
        discover: for open-ended families, ``discover(root) -> names found under root``.
        description: one line for ``gcl datasets``.
    """

    kind: str
    loader: Loader
    description: str
    names: dict[str, str] = field(default_factory=dict)
    resolve: Callable[[str, list[Path]], str | None] | None = None
    discover: Callable[[Path], Iterable[str]] | None = None

    def relpath(self, name: str, roots: list[Path]) -> str | None:
        if name in self.names:
            return self.names[name]
        return self.resolve(name, roots) if self.resolve is not None else None


_FAMILIES: list[Family] = []


def register_family(family: Family) -> Family:
    """Add a layout family to the registry (later registrations take precedence)."""
    _FAMILIES.insert(0, family)
    return family


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def find(name: str, root: str | os.PathLike | None = None) -> tuple[Family, str]:
    """The family serving ``name`` and the dataset's path relative to a data root.

    Args:
        name: dataset name (case-insensitive, ``_`` and ``-`` alike).
        root: the data root open-ended families search (default: :func:`data_roots`).

    Raises:
        UnknownDatasetError: no family serves ``name``; the message lists the valid names.
    """
    key = _normalise(name)
    roots = data_roots(root)
    for fam in _FAMILIES:
        rel = fam.relpath(key, roots)
        if rel is not None:
            return fam, rel
    raise UnknownDatasetError(name, known_names(root))


def known_names(root: str | os.PathLike | None = None) -> list[str]:
    """Every fixed name plus every name discovered in the data roots, sorted."""
    names: set[str] = set()
    for fam in _FAMILIES:
        names.update(fam.names)
        if fam.discover is not None:
            for r in data_roots(root):
                if r.is_dir():
                    names.update(fam.discover(r))
    return sorted(names)


def locate(name: str, root: str | os.PathLike | None = None) -> Path:
    """The path of dataset ``name`` in the first data root that has it.

    Raises:
        UnknownDatasetError: the name is not registered.
        MissingDatasetError: registered, but found in none of the roots (all are named).
    """
    _, rel = find(name, root)
    roots = data_roots(root)
    for r in roots:
        p = r / rel
        if p.exists():
            return p
    tried = ", ".join(str(r / rel) for r in roots) or "(no data root: set GCL_DATA)"
    raise MissingDatasetError(
        None,
        f"dataset {name!r} not found; looked for {tried}. Pass root=... or set GCL_DATA "
        "to a folder in the layout of the shared datasets",
    )


def load(name: str, root: str | os.PathLike | None = None, **kwargs: Any) -> Any:
    """Load dataset ``name`` from the first data root that holds it.

    Args:
        name: a registered name (case-insensitive), e.g. ``"cora"``, ``"ogbg-molbace"``,
            ``"acm"``, ``"gowalla"``, ``"beauty"``.
        root: a data root to use instead of ``GCL_DATA`` and the bundled ``datasets/``.
        **kwargs: passed to the family's loader.

    Returns:
        Whatever the family returns: a PyG ``Data``/``HeteroData``/``Dataset``, an
        :class:`~gcl.data.InteractionGraph` or a :class:`~gcl.data.SequenceDataset`.
    """
    fam, _ = find(name, root)
    return fam.loader(locate(name, root), _normalise(name), **kwargs)


@dataclass(frozen=True)
class Availability:
    name: str
    kind: str
    description: str
    path: Path | None


def available(root: str | os.PathLike | None = None) -> list[Availability]:
    """Every known dataset with the path it would be loaded from (``None`` if absent)."""
    out = []
    for name in known_names(root):
        fam, _ = find(name, root)
        try:
            path: Path | None = locate(name, root)
        except MissingDatasetError:
            path = None
        out.append(Availability(name, fam.kind, fam.description, path))
    return out
