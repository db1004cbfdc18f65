"""OGB loader: real molbace/molbbbp through OGB's classes, the processed cache under
weights-only loading, a user's folder without RELEASE_v1.txt (no prompt, left untouched),
broken folders, and tiny node/link/binary datasets written here in OGB's layout."""
from __future__ import annotations

import builtins
import hashlib
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import gcl.data as gdata
from gcl.data import DatasetError, MissingDatasetError
from gcl.data.ogb import OGB_SAFE_GLOBALS, evaluator, load_ogb, required_files

# ----------------------------------------------------------------------------- tiny writers


def write_csv_gz(path: Path, rows: np.ndarray | list) -> None:
    """One OGB raw file: headerless CSV, gzip-compressed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.asarray(rows)).to_csv(path, header=False, index=False, compression="gzip")


def ring_edges(num_nodes: int) -> np.ndarray:
    """[E, 2] edges i -> i+1 (mod n)."""
    nodes = np.arange(num_nodes)
    return np.stack([nodes, (nodes + 1) % num_nodes], axis=1)


def write_tiny_arxiv(root: Path, num_nodes: int = 10) -> Path:
    """An ``ogbn-arxiv`` look-alike: ring graph, 4-dim features, 3 classes, time split 6/2/2.

    Files as master.csv asks: edge, node-feat, node-label, node_year (additional node file),
    num-node-list, num-edge-list; split/time/{train,valid,test}.csv.gz. No RELEASE file.
    """
    folder = root / "ogb" / "ogbn_arxiv"
    edges = ring_edges(num_nodes)
    rng = np.random.default_rng(0)
    write_csv_gz(folder / "raw" / "edge.csv.gz", edges)
    write_csv_gz(folder / "raw" / "node-feat.csv.gz", rng.standard_normal((num_nodes, 4)).round(4))
    write_csv_gz(folder / "raw" / "node-label.csv.gz", (np.arange(num_nodes) % 3)[:, None])
    write_csv_gz(folder / "raw" / "node_year.csv.gz", (2000 + np.arange(num_nodes))[:, None])
    write_csv_gz(folder / "raw" / "num-node-list.csv.gz", [[num_nodes]])
    write_csv_gz(folder / "raw" / "num-edge-list.csv.gz", [[len(edges)]])
    split = folder / "split" / "time"
    write_csv_gz(split / "train.csv.gz", np.arange(6)[:, None])
    write_csv_gz(split / "valid.csv.gz", np.array([[6], [7]]))
    write_csv_gz(split / "test.csv.gz", np.array([[8], [9]]))
    return folder


def write_tiny_collab(root: Path, num_nodes: int = 10) -> Path:
    """An ``ogbl-collab`` look-alike: ring graph with edge_weight/edge_year files and
    ``split/time/*.pt`` dicts of NumPy arrays (as OGB ships them)."""
    folder = root / "ogb" / "ogbl_collab"
    edges = ring_edges(num_nodes)
    rng = np.random.default_rng(1)
    write_csv_gz(folder / "raw" / "edge.csv.gz", edges)
    write_csv_gz(folder / "raw" / "node-feat.csv.gz", rng.standard_normal((num_nodes, 4)).round(4))
    write_csv_gz(folder / "raw" / "edge_weight.csv.gz", np.ones((len(edges), 1), dtype=np.int64))
    write_csv_gz(folder / "raw" / "edge_year.csv.gz", (2000 + np.arange(len(edges)))[:, None])
    write_csv_gz(folder / "raw" / "num-node-list.csv.gz", [[num_nodes]])
    write_csv_gz(folder / "raw" / "num-edge-list.csv.gz", [[len(edges)]])
    split = folder / "split" / "time"
    split.mkdir(parents=True)
    negatives = np.array([[0, 5], [1, 6], [2, 7]])
    for part, sl in (("train", slice(0, 6)), ("valid", slice(6, 8)), ("test", slice(8, 10))):
        record = {
            "edge": edges[sl],
            "weight": np.ones(sl.stop - sl.start, dtype=np.int64),
            "year": 2000 + np.arange(sl.start, sl.stop),
        }
        if part != "train":
            record["edge_neg"] = negatives
        torch.save(record, split / f"{part}.pt")
    return folder


def write_tiny_vessel(root: Path, num_nodes: int = 6) -> Path:
    """An ``ogbl-vessel`` look-alike: a *binary* set (raw/data.npz), split/spatial/*.pt."""
    folder = root / "ogb" / "ogbl_vessel"
    (folder / "raw").mkdir(parents=True)
    np.savez(
        folder / "raw" / "data.npz",
        edge_index=np.array([[0, 1, 2], [1, 2, 3]]),
        num_nodes_list=np.array([num_nodes]),
        num_edges_list=np.array([3]),
        node_feat=np.arange(num_nodes * 3, dtype=np.float32).reshape(num_nodes, 3),
    )
    split = folder / "split" / "spatial"
    split.mkdir(parents=True)
    for part in ("train", "valid", "test"):
        torch.save({"edge": torch.tensor([[0, 1]]), "edge_neg": torch.tensor([[0, 4]])}, split / f"{part}.pt")
    return folder


def snapshot(folder: Path) -> dict[str, tuple[str, bytes]]:
    """Every path under ``folder``: its kind and (for files) a content hash."""
    out = {}
    for p in sorted(folder.rglob("*")):
        kind = "link" if p.is_symlink() else "dir" if p.is_dir() else "file"
        digest = hashlib.sha1(p.read_bytes()).digest() if kind == "file" else b""
        out[str(p.relative_to(folder))] = (kind, digest)
    return out


@pytest.fixture
def no_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything asks a question on stdin (OGB's RELEASE prompt)."""

    def refuse(*args: object) -> str:
        raise AssertionError(f"prompted on stdin: {args}")

    monkeypatch.setattr(builtins, "input", refuse)


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GCL_CACHE", str(cache))
    return cache


# ----------------------------------------------------------------------------- real data


def test_molbace_counts_split_features(bundled_root: Path, no_stdin: None) -> None:
    from ogb.graphproppred import PygGraphPropPredDataset

    ds = gdata.load("ogbg-molbace", root=bundled_root)
    assert isinstance(ds, PygGraphPropPredDataset)
    assert len(ds) == 1513
    split = ds.get_idx_split()
    assert [len(split[k]) for k in ("train", "valid", "test")] == [1210, 151, 152]
    assert len(torch.cat(list(split.values())).unique()) == 1513
    g = ds[0]
    assert g.x.shape == (32, 9) and g.x.dtype == torch.long
    assert g.edge_attr.shape == (70, 3)
    assert g.y.shape == (1, 1)
    assert ds.num_tasks == 1 and ds.eval_metric == "rocauc"


def test_molbbbp_counts(bundled_root: Path, no_stdin: None) -> None:
    ds = gdata.load("ogbg_molbbbp", root=bundled_root)
    assert len(ds) == 2039
    split = ds.get_idx_split()
    assert [len(split[k]) for k in ("train", "valid", "test")] == [1631, 204, 204]


def test_second_load_hits_processed_cache(bundled_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ogb.graphproppred import PygGraphPropPredDataset

    first = gdata.load("ogbg-molbace", root=bundled_root)

    def no_processing(self: object) -> None:
        raise AssertionError("the processed cache should have been reused")

    monkeypatch.setattr(PygGraphPropPredDataset, "process", no_processing)
    second = gdata.load("ogbg-molbace", root=bundled_root)
    assert len(second) == 1513
    assert torch.equal(first[7].edge_index, second[7].edge_index)
    # The processed file needs PyG's classes, which weights-only loading refuses by default:
    # the loader allowed them only inside its own block.
    processed = Path(second.processed_paths[0])
    with pytest.raises(pickle.UnpicklingError):
        torch.load(processed)
    assert not any(g in torch.serialization.get_safe_globals() for g in OGB_SAFE_GLOBALS[:3])


def test_bundled_folder_untouched(bundled_root: Path) -> None:
    folder = bundled_root / "ogb" / "ogbg_molbace"
    before = snapshot(folder)
    gdata.load("ogbg-molbace", root=bundled_root)
    assert snapshot(folder) == before


def test_copy_without_release_file_loads_without_prompt(
    bundled_root: Path, tmp_path: Path, no_stdin: None
) -> None:
    user = tmp_path / "user"
    folder = user / "ogb" / "ogbg_molbace"
    shutil.copytree(bundled_root / "ogb" / "ogbg_molbace", folder)
    (folder / "RELEASE_v1.txt").unlink()
    before = snapshot(folder)
    ds = gdata.load("ogbg-molbace", root=user)
    assert len(ds) == 1513
    assert len(ds.get_idx_split()["train"]) == 1210
    assert snapshot(folder) == before  # nothing written, deleted or renamed
    assert not (folder / "processed").exists()


def test_missing_raw_file_is_named(bundled_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ogb" / "ogbg_molbace"
    shutil.copytree(bundled_root / "ogb" / "ogbg_molbace", folder)
    (folder / "raw" / "edge-feat.csv.gz").unlink()
    (folder / "split" / "scaffold" / "test.csv.gz").unlink()
    with pytest.raises(
        DatasetError,
        match=r"ogbg_molbace: missing OGB file\(s\) for ogbg-molbace: raw/edge-feat\.csv\.gz, "
        r"split/scaffold/test\.csv\.gz",
    ):
        gdata.load("ogbg-molbace", root=tmp_path)


def test_truncated_raw_file_is_named(
    bundled_root: Path, tmp_path: Path, private_cache: Path
) -> None:
    folder = tmp_path / "ogb" / "ogbg_molbace"
    shutil.copytree(bundled_root / "ogb" / "ogbg_molbace", folder)
    edge = folder / "raw" / "edge.csv.gz"
    edge.write_bytes(edge.read_bytes()[:2000])
    with pytest.raises(DatasetError, match=r"raw/edge\.csv\.gz: truncated or corrupt file"):
        gdata.load("ogbg-molbace", root=tmp_path)
    assert not private_cache.exists() or not any(private_cache.iterdir())


def test_name_not_in_master_csv(tmp_path: Path) -> None:
    (tmp_path / "ogb" / "ogbg_mymols" / "raw").mkdir(parents=True)
    assert "ogbg-mymols" in gdata.known_names(tmp_path)
    with pytest.raises(DatasetError, match=r"'ogbg-mymols' is not a dataset the installed OGB .* knows"):
        gdata.load("ogbg-mymols", root=tmp_path)


def test_required_files_follow_master_csv() -> None:
    assert ("raw/node_year.csv.gz",) in required_files("ogbn-arxiv")
    assert ("raw/node_species.csv.gz", "raw/species.csv.gz") in required_files("ogbn-proteins")
    assert ("split/time/train.pt", "split/time/split_dict.pt") in required_files("ogbl-collab")
    assert ("raw/graph-label.csv.gz",) in required_files("ogbg-molhiv")


# ----------------------------------------------------------------------------- tiny sets


def test_tiny_node_dataset(tmp_path: Path, no_stdin: None) -> None:
    from ogb.nodeproppred import PygNodePropPredDataset

    folder = write_tiny_arxiv(tmp_path)
    before = snapshot(folder)
    assert "ogbn-arxiv" in gdata.known_names(tmp_path)
    ds = gdata.load("ogbn-arxiv", root=tmp_path)
    assert isinstance(ds, PygNodePropPredDataset)
    data = ds[0]
    assert data.num_nodes == 10
    assert data.x.shape == (10, 4)
    assert data.edge_index.shape == (2, 10)  # ogbn-arxiv adds no inverse edges
    assert data.y.view(-1).tolist() == [i % 3 for i in range(10)]
    assert data.node_year.view(-1).tolist() == list(range(2000, 2010))
    split = ds.get_idx_split()
    assert split["train"].tolist() == list(range(6)) and split["test"].tolist() == [8, 9]
    assert snapshot(folder) == before

    ev = evaluator("ogbn-arxiv")
    y_true = data.y[split["test"]]
    result = ev.eval({"y_true": y_true, "y_pred": torch.zeros_like(y_true)})
    assert result["acc"] == pytest.approx(float((y_true == 0).float().mean()))


def test_tiny_link_dataset_split_holds_numpy(tmp_path: Path, no_stdin: None) -> None:
    from ogb.linkproppred import PygLinkPropPredDataset

    write_tiny_collab(tmp_path)
    ds = gdata.load("ogbl-collab", root=tmp_path)
    assert isinstance(ds, PygLinkPropPredDataset)
    data = ds[0]
    assert data.num_nodes == 10
    assert data.edge_index.shape == (2, 20)  # ogbl-collab adds the inverse edges
    assert data.edge_weight.shape == (20, 1)
    split = ds.get_edge_split()  # torch.load of NumPy arrays, inside the safe globals
    assert isinstance(split["train"]["edge"], torch.Tensor)
    assert split["train"]["edge"].shape == (6, 2)
    assert split["valid"]["edge_neg"].tolist() == [[0, 5], [1, 6], [2, 7]]

    ev = evaluator("ogbl-collab")
    out = ev.eval({"y_pred_pos": torch.ones(2), "y_pred_neg": torch.zeros(3)})
    assert out["hits@50"] == 1.0


def test_tiny_binary_dataset(tmp_path: Path) -> None:
    write_tiny_vessel(tmp_path)
    ds = gdata.load("ogbl-vessel", root=tmp_path)
    assert ds[0].num_nodes == 6
    assert ds[0].x.shape == (6, 3)
    assert ds.get_edge_split()["valid"]["edge_neg"].tolist() == [[0, 4]]


def test_dataset_object_pickles(tmp_path: Path) -> None:
    write_tiny_arxiv(tmp_path)
    ds = gdata.load("ogbn-arxiv", root=tmp_path)
    copy = pickle.loads(pickle.dumps(ds))
    assert type(copy) is type(ds)
    assert torch.equal(copy[0].x, ds[0].x)


def test_missing_dataset_without_download(tmp_path: Path) -> None:
    with pytest.raises(MissingDatasetError, match="download=True"):
        load_ogb("ogbn-arxiv", root=tmp_path)


def test_download_opt_in_goes_to_cache(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch, no_stdin: None
) -> None:
    """``download=True`` lets OGB fetch into the cache (the fetch is replaced by a writer)."""
    from ogb.nodeproppred import PygNodePropPredDataset

    def fake_download(self: PygNodePropPredDataset) -> None:
        written = write_tiny_arxiv(tmp_path / "fetched")
        shutil.rmtree(self.root)
        shutil.copytree(written, self.root)

    monkeypatch.setattr(PygNodePropPredDataset, "download", fake_download)
    ds = load_ogb("ogbn-arxiv", root=tmp_path / "empty", download=True)
    assert ds[0].num_nodes == 10
    assert Path(ds.root).is_relative_to(private_cache)
    assert len(ds.get_idx_split()["valid"]) == 2
