"""Where datasets are read from and where processed caches are written.

Data roots, searched in order:

1. the ``root`` argument of :func:`gcl.data.load` (then only that root);
2. the ``GCL_DATA`` environment variable (several roots separated by ``os.pathsep``);
3. the ``datasets/`` folder bundled with the repository (small real sets).

Each root mirrors one layout (``planetoid/Cora/raw/...``, ``ogb/ogbg_molbace/...``,
``hetero/heco/acm/...``, ``recsys/gowalla/...``, ``seqrec/Beauty.txt``,
``moleculenet/bace.csv``). Roots may be read-only: processed caches go to
``GCL_CACHE`` (default ``~/.cache/gcl``), never into a data root.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

BUNDLED_ROOT = Path(__file__).resolve().parents[2] / "datasets"


def data_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The data roots to search, in order (see the module docstring)."""
    if root is not None:
        return [Path(root).expanduser()]
    roots: list[Path] = []
    env = os.environ.get("GCL_DATA", "")
    roots += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    if BUNDLED_ROOT.is_dir():
        roots.append(BUNDLED_ROOT)
    return roots


def cache_root() -> Path:
    """Root of all processed caches: ``$GCL_CACHE`` or ``~/.cache/gcl``."""
    env = os.environ.get("GCL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gcl"


def cache_dir_for(source: str | os.PathLike, tag: str) -> Path:
    """A cache directory private to one source path (a dataset folder or file) and one tag.

    The directory name carries a hash of the resolved source path, so two copies of the same
    dataset in different roots never share (or clobber) a cache.
    """
    resolved = str(Path(source).resolve())
    digest = hashlib.sha1(resolved.encode()).hexdigest()[:12]
    return cache_root() / f"{tag}-{digest}"
