"""SMILES CSV loader: bace against OGB's molbace, labels, gzip, bad files, invalid SMILES,
the weights-only cache, the missing-rdkit message and the pre-training corpus."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gcl.data as gdata
from gcl.data import DatasetError, OptionalDependencyError
from gcl.data import smiles as smiles_mod
from gcl.data.smiles import (
    InvalidSmilesWarning,
    MoleculeDataset,
    build_pretraining_corpus,
    canonical_smiles,
    load_smiles_csv,
    smiles_to_dataset,
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def bace(bundled_root: Path) -> MoleculeDataset:
    return gdata.load("bace", root=bundled_root, labels=True)


def test_bace_counts_and_features(bace: MoleculeDataset) -> None:
    assert len(bace) == 1513
    g = bace[0]
    assert g.x.shape == (32, 9) and g.x.dtype == torch.long
    assert g.edge_attr.shape == (70, 3) and g.edge_index.shape == (2, 70)
    assert int(g.edge_index.max()) < g.num_nodes  # local atom ids
    assert g.y.shape == (1, 1) and g.y.dtype == torch.float32
    assert bace.label_names == ["Class"]
    labels = bace._data.y.view(-1)
    assert set(labels.tolist()) == {0.0, 1.0}
    assert int(labels.sum()) == 691  # BACE inhibitors in MoleculeNet's bace
    assert bace.smiles[0].startswith("O1CC[C@@H](NC(=O)")


def test_bace_matches_ogb_molbace(bace: MoleculeDataset, bundled_root: Path) -> None:
    """OGB built ogbg-molbace from the same SMILES with the same featuriser."""
    ogb = gdata.load("ogbg-molbace", root=bundled_root)
    for i in (0, 1, 2, 3, 4, 100, 1512):
        a, b = bace[i], ogb[i]
        assert a.num_nodes == b.num_nodes and a.num_edges == b.num_edges
        assert torch.equal(a.x, b.x)
        assert torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.edge_attr, b.edge_attr)


def test_batches_with_pyg_loader(bace: MoleculeDataset) -> None:
    from torch_geometric.loader import DataLoader

    batch = next(iter(DataLoader(bace, batch_size=3)))
    sizes = [bace[i].num_nodes for i in range(3)]
    assert batch.num_graphs == 3 and batch.num_nodes == sum(sizes)
    # Edges of the second molecule point into its own atom range.
    second = batch.edge_index[:, batch.batch[batch.edge_index[0]] == 1]
    assert int(second.min()) >= sizes[0] and int(second.max()) < sizes[0] + sizes[1]


def test_no_labels_by_default(bundled_root: Path) -> None:
    ds = gdata.load("bace", root=bundled_root)
    assert "y" not in ds[0]
    assert ds.label_names == []


def test_tox21_labels_with_missing_values(shared_root: Path) -> None:
    with pytest.warns(InvalidSmilesWarning, match=r"left out 8 of 7831"):
        ds = gdata.load("tox21", root=shared_root, labels=True)
    assert len(ds) == 7823  # 8 SMILES of tox21.csv do not parse with current RDKit
    assert ds._data.y.shape == (7823, 12)
    assert ds.label_names[0] == "NR-AR" and "mol_id" not in ds.label_names
    assert bool(ds._data.y.isnan().any())


def test_gzipped_sider(shared_root: Path) -> None:
    ds = gdata.load("sider", root=shared_root, labels=True)
    assert len(ds) == 1427
    assert ds._data.y.shape == (1427, 27)


def test_gzipped_csv_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "mols.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("smiles,task\nCCO,1\nc1ccccc1,0\n[Na+].[Cl-],\n")
    ds = load_smiles_csv(path, labels=["task"])
    assert len(ds) == 3
    assert [ds[i].num_nodes for i in range(3)] == [3, 6, 2]
    assert [ds[i].num_edges for i in range(3)] == [4, 12, 0]
    y = ds._data.y.view(-1)
    assert y[:2].tolist() == [1.0, 0.0] and bool(y[2].isnan())


def test_no_smiles_column_lists_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", "name,activity\nethanol,1\n")
    with pytest.raises(DatasetError, match=r"x\.csv: no SMILES column.*columns found: 'name', 'activity'"):
        load_smiles_csv(path)


def test_explicit_smiles_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", "name,structure\nethanol,CCO\n")
    assert load_smiles_csv(path, smiles_column="structure")[0].num_nodes == 3
    with pytest.raises(DatasetError, match=r"expected a column named 'smi'"):
        load_smiles_csv(path, smiles_column="smi")


def test_missing_label_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", "smiles,a\nCCO,1\n")
    with pytest.raises(DatasetError, match=r"missing label column\(s\) 'b'; columns found: 'smiles', 'a'"):
        load_smiles_csv(path, labels=["b"])


def test_non_numeric_label_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", "smiles,a\nCCO,1\nCCC,active\n")
    with pytest.raises(DatasetError, match=r"x\.csv, line 3: label column 'a': 'active' is not a number"):
        load_smiles_csv(path, labels=["a"])


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty.csv", "")
    with pytest.raises(DatasetError, match=r"empty\.csv: empty file"):
        load_smiles_csv(empty)
    header = _write(tmp_path / "header.csv", "smiles,y\n")
    with pytest.raises(DatasetError, match=r"header\.csv: no molecules"):
        load_smiles_csv(header)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DatasetError, match=r"bad\.csv\.gz: not a readable CSV"):
        load_smiles_csv(path)


def test_invalid_smiles_skip_or_raise(tmp_path: Path) -> None:
    path = _write(tmp_path / "mols.csv", "smiles\nCCO\nC1CC\n\nc1ccccc1\nC(C)(C)(C)(C)C\n")
    with pytest.warns(InvalidSmilesWarning, match=r"left out 3 of 5 molecules .*lines 3, 4, 6"):
        ds = load_smiles_csv(path)
    assert len(ds) == 2
    assert ds.rows.tolist() == [0, 3]
    assert ds.smiles == ["CCO", "c1ccccc1"]
    with pytest.raises(DatasetError, match=r"mols\.csv, line 3: invalid SMILES 'C1CC'"):
        load_smiles_csv(path, on_invalid="raise")


def test_cache_is_reused_and_weights_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GCL_CACHE", str(cache))
    path = _write(tmp_path / "mols.csv", "smiles,t\nCCO,1\nCCN,0\n")
    first = load_smiles_csv(path, labels=["t"])
    files = list(cache.rglob("*.pt"))
    assert len(files) == 1
    stored = torch.load(files[0], weights_only=True)  # plain tensors and lists only
    assert stored["num_nodes"].tolist() == [3, 3]

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(smiles_mod, "_graphs_from_smiles", no_conversion)
    second = load_smiles_csv(path, labels=["t"])
    assert torch.equal(first._data.x, second._data.x)
    assert second._data.y.view(-1).tolist() == [1.0, 0.0]

    monkeypatch.undo()
    monkeypatch.setenv("GCL_CACHE", str(cache))
    _write(path, "smiles,t\nCCO,1\nCCCC,0\nC,1\n")  # a changed file gets a fresh cache
    third = load_smiles_csv(path, labels=["t"])
    assert [third[i].num_nodes for i in range(3)] == [3, 4, 1]


def test_missing_rdkit_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "mols.csv", "smiles\nCCO\n")
    monkeypatch.setitem(sys.modules, "rdkit", None)
    with pytest.raises(OptionalDependencyError, match=r"needs the optional package 'rdkit'.*gcl\[chem\]"):
        load_smiles_csv(path)
    with pytest.raises(OptionalDependencyError, match="rdkit"):
        build_pretraining_corpus([path])


def test_smiles_to_dataset() -> None:
    with pytest.warns(InvalidSmilesWarning, match="left out 1 of 3"):
        ds = smiles_to_dataset(["CCO", "not a smiles", "O=C=O"], y=np.array([1.0, 2.0, 3.0]))
    assert len(ds) == 2 and ds.rows.tolist() == [0, 2]
    assert ds._data.y.view(-1).tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match="position 1"):
        smiles_to_dataset(["CCO", "not a smiles"], on_invalid="raise")


def test_pretraining_corpus_dedup_and_exclusion(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.csv", "smiles,y\nCCO,1\nOCC,0\nc1ccccc1,1\nbogus(,0\n")
    b_path = tmp_path / "b.csv.gz"
    with gzip.open(b_path, "wt") as fh:
        fh.write("mol\nC1=CC=CC=C1\nCC(=O)O\nCCN\n")
    with pytest.warns(InvalidSmilesWarning, match="skipped 1"):
        corpus = build_pretraining_corpus([a, b_path], exclude_smiles=["NCC"])
    # ethanol twice (two spellings), benzene twice (aromatic and Kekule), ethylamine excluded.
    assert corpus == canonical_smiles(["CCO", "c1ccccc1", "CC(=O)O"])
    assert corpus == ["CCO", "c1ccccc1", "CC(=O)O"]


def test_corpus_excludes_finetuning_set(bundled_root: Path, shared_root: Path) -> None:
    bace = gdata.load("bace", root=bundled_root)
    clintox = shared_root / "moleculenet" / "clintox.csv"
    with pytest.warns(InvalidSmilesWarning):
        full = build_pretraining_corpus([clintox])
        without = build_pretraining_corpus([clintox, bundled_root / "moleculenet" / "bace.csv"],
                                           exclude_smiles=bace.smiles)
    assert len(full) == len(set(full)) > 1400
    bace_canonical = set(canonical_smiles(bace.smiles))
    # bace's own molecules add nothing; clintox molecules that are also in bace drop out.
    assert without == [s for s in full if s not in bace_canonical]


def test_open_ended_csv_is_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "moleculenet" / "MyMols.csv", "smiles\nCCO\nCCC\n")
    monkeypatch.setenv("GCL_DATA", str(tmp_path))
    assert "mymols" in gdata.known_names()
    assert len(gdata.load("mymols")) == 2
