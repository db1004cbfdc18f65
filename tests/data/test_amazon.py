"""Amazon loader: real Photo/Computers counts, aliases, cache reuse, broken zips."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.utils import is_undirected

import gcl.data as gdata
from gcl.data import DatasetError


def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


@pytest.fixture
def user_root(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_photo_counts(bundled_root: Path) -> None:
    data = gdata.load("amazon-photo", root=bundled_root)
    assert data.num_nodes == 7650
    assert data.x.shape == (7650, 745)
    # PyG's Amazon makes the graph undirected and drops self-loops: 238,162 directed edges.
    assert data.edge_index.shape == (2, 238162)
    assert is_undirected(data.edge_index, num_nodes=data.num_nodes)
    assert int((data.edge_index[0] == data.edge_index[1]).sum()) == 0
    assert int(data.y.max()) + 1 == 8


def test_computers_counts(shared_root: Path) -> None:
    data = gdata.load("amazon-computers", root=shared_root)
    assert data.num_nodes == 13752
    assert data.x.shape == (13752, 767)
    assert data.edge_index.shape == (2, 491722)
    assert int(data.y.max()) + 1 == 10


def test_alias_gives_same_graph(bundled_root: Path) -> None:
    a = gdata.load("photo", root=bundled_root)
    b = gdata.load("Amazon_Photo", root=bundled_root)
    assert torch.equal(a.edge_index, b.edge_index)
    assert torch.equal(a.x, b.x)


def test_second_load_reuses_cache(bundled_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torch_geometric.datasets import Amazon

    first = gdata.load("amazon-photo", root=bundled_root)

    def no_processing(self: Amazon) -> None:
        raise AssertionError("the processed cache should have been reused")

    monkeypatch.setattr(Amazon, "process", no_processing)
    second = gdata.load("amazon-photo", root=bundled_root)
    assert torch.equal(first.edge_index, second.edge_index)


def test_bundled_root_is_never_written(bundled_root: Path) -> None:
    folder = bundled_root / "gnn-benchmark"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    gdata.load("amazon-photo", root=bundled_root)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before


def test_corrupt_zip(user_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GCL_CACHE", str(cache))
    archive = user_root / "gnn-benchmark" / "amazon-photo.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(DatasetError, match=r"amazon-photo\.zip: not a readable zip archive"):
        gdata.load("amazon-photo", root=user_root)
    assert not cache.exists() or not any(cache.iterdir())  # no partial cache


def test_truncated_zip(bundled_root: Path, user_root: Path) -> None:
    real = (bundled_root / "gnn-benchmark" / "amazon-photo.zip").read_bytes()
    archive = user_root / "gnn-benchmark" / "amazon-photo.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(real[: len(real) // 2])
    with pytest.raises(DatasetError, match=r"amazon-photo\.zip: not a readable zip archive"):
        gdata.load("amazon-photo", root=user_root)


def test_zip_without_npz_member(user_root: Path) -> None:
    _zip_with(user_root / "gnn-benchmark" / "amazon-photo.zip", {"readme.txt": b"hello"})
    with pytest.raises(
        DatasetError,
        match=r"amazon-photo\.zip: no member amazon_electronics_photo\.npz .*members found: readme\.txt",
    ):
        gdata.load("photo", root=user_root)


def test_member_that_is_not_an_npz(user_root: Path) -> None:
    _zip_with(
        user_root / "gnn-benchmark" / "amazon-photo.zip",
        {"amazon_electronics_photo.npz": b"garbage, not numpy"},
    )
    with pytest.raises(DatasetError, match=r"amazon-photo\.zip: member amazon_electronics_photo\.npz is not an npz"):
        gdata.load("amazon-photo", root=user_root)


def test_member_in_subfolder_and_tiny_graph(user_root: Path) -> None:
    """A user's own zip with the npz in a folder: read, made undirected, self-loop dropped."""
    import scipy.sparse as sp

    adj = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=np.float32))
    attr = sp.csr_matrix(np.eye(3, dtype=np.float32))
    buf = io.BytesIO()
    np.savez(
        buf,
        adj_data=adj.data, adj_indices=adj.indices, adj_indptr=adj.indptr, adj_shape=adj.shape,
        attr_data=attr.data, attr_indices=attr.indices, attr_indptr=attr.indptr,
        attr_shape=attr.shape, labels=np.array([0, 1, 1]),
    )
    _zip_with(
        user_root / "gnn-benchmark" / "amazon-computers.zip",
        {"npz/amazon_electronics_computers.npz": buf.getvalue()},
    )
    data = gdata.load("computers", root=user_root)
    assert data.num_nodes == 3
    assert sorted(map(tuple, data.edge_index.t().tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert data.y.tolist() == [0, 1, 1]
