"""Planetoid loader: real Cora counts and split, cache reuse, read-only roots, broken files."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import gcl.data as gdata
from gcl.data import DatasetError
from gcl.data.planetoid import raw_file_names


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def _copy_cora(src_root: Path, dst_root: Path, folder: str = "Cora", name: str = "cora") -> Path:
    """Copy the bundled Cora raw files to ``dst_root/planetoid/<folder>/raw`` as ``ind.<name>.*``."""
    raw = dst_root / "planetoid" / folder / "raw"
    raw.mkdir(parents=True)
    for src, dst in zip(raw_file_names("cora"), raw_file_names(name)):
        shutil.copy(src_root / "planetoid" / "Cora" / "raw" / src, raw / dst)
    return raw


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GCL_CACHE", str(cache))
    return cache


def test_cora_counts_and_public_split(bundled_root: Path) -> None:
    data = gdata.load("cora", root=bundled_root)
    assert data.num_nodes == 2708
    assert data.x.shape == (2708, 1433)
    assert data.edge_index.shape == (2, 10556)
    src, dst = data.edge_index
    assert int((src < dst).sum()) == 5278  # undirected edges
    assert int((src == dst).sum()) == 0
    assert int(data.y.max()) + 1 == 7
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (
        140,
        500,
        1000,
    )
    assert not (data.train_mask & data.val_mask).any()
    assert not (data.val_mask & data.test_mask).any()
    # The public split: the first 20 nodes of each class train (140 = 7 x 20).
    assert torch.equal(torch.bincount(data.y[data.train_mask], minlength=7), torch.full((7,), 20))
    assert torch.equal(data.train_mask.nonzero().view(-1), torch.arange(140))


def test_full_split_passed_through(bundled_root: Path) -> None:
    data = gdata.load("cora", root=bundled_root, split="full")
    assert int(data.train_mask.sum()) == 2708 - 1500
    assert int(data.val_mask.sum()) == 500


def test_geom_gcn_split_rejected(bundled_root: Path) -> None:
    with pytest.raises(ValueError, match="geom-gcn"):
        gdata.load("cora", root=bundled_root, split="geom-gcn")


def test_second_load_reuses_cache(bundled_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torch_geometric.datasets import Planetoid

    first = gdata.load("cora", root=bundled_root)

    def no_processing(self: Planetoid) -> None:
        raise AssertionError("the processed cache should have been reused")

    monkeypatch.setattr(Planetoid, "process", no_processing)
    second = gdata.load("cora", root=bundled_root)
    assert torch.equal(first.edge_index, second.edge_index)
    assert torch.equal(first.x, second.x)


def test_bundled_root_is_never_written(bundled_root: Path, private_cache: Path) -> None:
    folder = bundled_root / "planetoid"
    before = _snapshot(folder)
    gdata.load("cora", root=bundled_root)
    assert _snapshot(folder) == before
    assert not (folder / "Cora" / "processed").exists()
    assert any(private_cache.glob("planetoid-cora-*/Cora/processed/data.pt"))


def test_missing_raw_files_are_named(bundled_root: Path, tmp_path: Path) -> None:
    raw = _copy_cora(bundled_root, tmp_path)
    (raw / "ind.cora.graph").unlink()
    (raw / "ind.cora.ty").unlink()
    with pytest.raises(DatasetError, match=r"missing Planetoid raw file\(s\): ind\.cora\.ty, ind\.cora\.graph"):
        gdata.load("cora", root=tmp_path)


def test_truncated_pickle_is_named(bundled_root: Path, tmp_path: Path, private_cache: Path) -> None:
    raw = _copy_cora(bundled_root, tmp_path)
    allx = raw / "ind.cora.allx"
    allx.write_bytes(allx.read_bytes()[: allx.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"ind\.cora\.allx: truncated or corrupt pickle"):
        gdata.load("cora", root=tmp_path)
    # Nothing half-written is left in the cache.
    assert not private_cache.exists() or not any(private_cache.iterdir())


def test_empty_file_is_named(bundled_root: Path, tmp_path: Path) -> None:
    raw = _copy_cora(bundled_root, tmp_path)
    (raw / "ind.cora.y").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"ind\.cora\.y: empty file"):
        gdata.load("cora", root=tmp_path)


def test_bad_test_index_line(bundled_root: Path, tmp_path: Path) -> None:
    raw = _copy_cora(bundled_root, tmp_path)
    (raw / "ind.cora.test.index").write_text("2692\nabc\n2533\n")
    with pytest.raises(DatasetError, match=r"ind\.cora\.test\.index, line 2: expected one non-negative"):
        gdata.load("cora", root=tmp_path)


def test_open_ended_folder_is_discovered_and_loaded(
    bundled_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_cora(bundled_root, tmp_path, folder="MyCora", name="mycora")
    monkeypatch.setenv("GCL_DATA", str(tmp_path))
    assert "mycora" in gdata.known_names()
    data = gdata.load("mycora")
    assert data.x.shape == (2708, 1433)
    assert data.edge_index.shape == (2, 10556)
