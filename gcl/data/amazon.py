"""Amazon co-purchase graphs (Computers, Photo) read with PyG's own ``Amazon`` class.

Layout, relative to a data root::

    gnn-benchmark/amazon-computers.zip   (member amazon_electronics_computers.npz)
    gnn-benchmark/amazon-photo.zip       (member amazon_electronics_photo.npz)

Each zip holds the ``.npz`` of shchur/gnn-benchmark that
:class:`torch_geometric.datasets.Amazon` reads from ``<root>/<Name>/raw``. The member is
unpacked into a private cache folder (:func:`gcl.data.paths.cache_dir_for`) and PyG processes
it there, inside :func:`gcl.utils.atomic.atomic_directory`, so the data root is only read and
an interrupted run leaves no partial cache.

PyG removes self-loops and makes the graph undirected; the resulting counts (both directions
of every edge counted) are Computers 13,752 nodes / 491,722 edges / 767 features / 10 classes
and Photo 7,650 nodes / 238,162 edges / 745 features / 8 classes. (The npz itself stores
287,209 and 143,663 adjacency entries.)
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Callable

from torch_geometric.data import Data

from gcl.data.cache import build_cache_dir, processing_errors, source_fingerprint
from gcl.data.errors import DatasetError
from gcl.data.paths import cache_dir_for
from gcl.data.registry import Family, register_family

#: Registry name -> PyG's name for the set.
AMAZON_NAMES: dict[str, str] = {
    "amazon-computers": "computers",
    "computers": "computers",
    "amazon-photo": "photo",
    "photo": "photo",
}


def npz_member_name(pyg_name: str) -> str:
    """The npz file name PyG's ``Amazon`` reads for ``pyg_name`` (``computers``/``photo``)."""
    return f"amazon_electronics_{pyg_name}.npz"


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    """Copy the zip member whose base name is ``member`` to ``dest``.

    Raises:
        DatasetError: the archive is not a readable zip, lacks the member, or the member is
            truncated (CRC or length mismatch).
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if Path(i.filename).name == member]
            if not infos:
                found = ", ".join(zf.namelist()) or "(none)"
                raise DatasetError(
                    archive, f"no member {member} in the zip (members found: {found})"
                )
            with zf.open(infos[0]) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
    except DatasetError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DatasetError(
            archive,
            f"not a readable zip archive, corrupt or truncated ({type(exc).__name__}: {exc})",
        ) from exc


def _check_sizes(archive: Path, member: str, data: Data) -> None:
    """One label per node and no edge beyond the nodes (PyG's reader checks neither).

    Raises:
        DatasetError: naming the archive and the member.
    """
    n = int(data.x.size(0))
    if data.y.numel() != n:
        raise DatasetError(
            archive, f"member {member}: {data.y.numel()} labels for {n} nodes (attr_shape rows)"
        )
    if data.edge_index.numel() and int(data.edge_index.max()) >= n:
        raise DatasetError(
            archive,
            f"member {member}: the adjacency refers to node {int(data.edge_index.max())}, "
            f"beyond the {n} nodes of the attribute matrix",
        )


def load_amazon(
    path: Path,
    name: str,
    *,
    transform: Callable[[Data], Data] | None = None,
) -> Data:
    """Read Amazon Computers or Photo from its gnn-benchmark zip with PyG's ``Amazon`` class.

    Args:
        path: the zip (``gnn-benchmark/amazon-computers.zip`` or ``amazon-photo.zip``).
        name: ``"amazon-computers"``, ``"amazon-photo"`` (or ``"computers"``, ``"photo"``).
        transform: applied to the returned graph.

    Returns:
        PyG ``Data`` with ``x`` [N, F] float (bag-of-words), ``edge_index`` [2, E] (undirected,
        both directions), ``y`` [N] long. No split is shipped with these sets.

    Raises:
        DatasetError: the zip is corrupt or truncated, has no ``amazon_electronics_<name>.npz``
            member, the member is not an npz PyG can read, or its label count or adjacency
            does not match its number of nodes.
    """
    from torch_geometric.datasets import Amazon

    path = Path(path)
    if name not in AMAZON_NAMES:
        raise ValueError(f"unknown Amazon set {name!r}; expected one of {', '.join(AMAZON_NAMES)}")
    pyg_name = AMAZON_NAMES[name]
    folder = pyg_name.capitalize()
    member = npz_member_name(pyg_name)
    if not path.is_file():
        raise DatasetError(path, f"missing zip archive (expected one holding {member})")

    def build(tmp: Path) -> None:
        raw = tmp / folder / "raw"
        raw.mkdir(parents=True)
        _extract_member(path, member, raw / member)
        with processing_errors(path, f"member {member} is not an npz PyG's Amazon can read"):
            Amazon(str(tmp), pyg_name)
        _check_sizes(path, member, Amazon(str(tmp), pyg_name)[0])

    cache = build_cache_dir(
        cache_dir_for(path, f"amazon-{pyg_name}-{source_fingerprint(path)}"),
        Path(folder) / "processed" / "data.pt",
        build,
    )
    return Amazon(str(cache), pyg_name, transform=transform)[0]


register_family(
    Family(
        kind="node",
        loader=load_amazon,
        description="Amazon co-purchase graph (gnn-benchmark npz in a zip, PyG Amazon)",
        names={
            key: f"gnn-benchmark/amazon-{pyg}.zip" for key, pyg in AMAZON_NAMES.items()
        },
    )
)
