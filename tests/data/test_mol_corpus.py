"""The molecular pre-training corpus: de-duplication, exclusion of the fine-tuning set (by
canonical SMILES and by graph key), bond-less molecules, the cache, graph keys."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

import gcl.data as gdata
from gcl.data import OptionalDependencyError
from gcl.data.mol_corpus import (
    build_mol_corpus,
    dataset_graph_keys,
    default_corpus_files,
    graph_keys,
    select_molecules,
    target_smiles,
)
from gcl.data.smiles import MoleculeDataset, canonical_smiles, smiles_to_dataset


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture()
def csvs(tmp_path: Path) -> list[Path]:
    a = _csv(tmp_path / "a.csv", "smiles,y\nCCO,1\nOCC,0\nc1ccccc1,1\nbogus(,0\n[Na+].[Cl-],1\nCCN,0\n")
    b = _csv(tmp_path / "b.csv", "mol\nC1=CC=CC=C1\nCC(=O)O\n[Na+]\nCCCl\n")
    return [a, b]


def test_dedup_exclusion_and_bondless(csvs: list[Path]) -> None:
    target = smiles_to_dataset(["NCC", "ClCC"])  # ethylamine and chloroethane, other spellings
    with pytest.warns(UserWarning, match="skipped 1"):
        corpus = build_mol_corpus(csvs, exclude=target)
    # ethanol and benzene once each, target molecules out, bond-less salts and ions out
    assert corpus.smiles == canonical_smiles(["CCO", "c1ccccc1", "CC(=O)O"])
    s = corpus.stats
    assert (s["invalid"], s["unique"], s["excluded_smiles"], s["bondless"], s["molecules"]) == (1, 7, 2, 2, 3)
    with pytest.warns(UserWarning, match="skipped 1"):  # another option, another cache entry
        kept_all = build_mol_corpus(csvs, exclude=target, drop_bondless=False)
    assert len(kept_all) == 5 and kept_all.stats["bondless"] == 2
    assert all(corpus[i].edge_index.size(1) > 0 for i in range(len(corpus)))


def test_exclusion_by_graph_key_without_smiles(csvs: list[Path]) -> None:
    """A target that carries no SMILES (an OGB folder without mapping/) is excluded by graph key."""
    named = smiles_to_dataset(["NCC", "c1ccccc1"])
    anonymous = MoleculeDataset(**{**named.to_tensors(), "smiles": []})
    assert target_smiles(anonymous) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corpus = build_mol_corpus(csvs, exclude=anonymous)
    assert corpus.stats["excluded_smiles"] == 0 and corpus.stats["excluded_graph_key"] == 2
    assert corpus.smiles == canonical_smiles(["CCO", "CC(=O)O", "CCCl"])


def test_corpus_excludes_the_ogb_finetuning_molecules(bundled_root: Path) -> None:
    """The bundled bace.csv is ogbg-molbace: with molbace excluded nothing of it is left."""
    molbace = gdata.load("ogbg-molbace", root=bundled_root)
    smiles = target_smiles(molbace)
    assert smiles is not None and len(smiles) == 1513
    corpus = build_mol_corpus([bundled_root / "moleculenet" / "bace.csv"], exclude=molbace)
    assert len(corpus) == 0 and corpus.stats["excluded_smiles"] == 1513
    # the graph keys alone find every molecule too: OGB's graphs and ours from the SMILES agree
    ours = dataset_graph_keys(gdata.load("bace", root=bundled_root))
    assert bool(torch.isin(ours, dataset_graph_keys(molbace)).all())


def test_graph_keys_ignore_atom_order_and_tell_molecules_apart() -> None:
    ds = smiles_to_dataset(["CC(=O)Oc1ccccc1C(=O)O", "OC(=O)c1ccccc1OC(C)=O", "CC(=O)Oc1ccccc1", "CCO", "OCC",
                            "CCN"])
    keys = dataset_graph_keys(ds)
    assert keys[0] == keys[1] and keys[3] == keys[4]  # same molecule, other atom order
    assert len({int(k) for k in keys[[0, 2, 3, 5]]}) == 4
    d = ds[2]  # a random relabelling of one molecule keeps its key
    perm = torch.randperm(d.num_nodes, generator=torch.Generator().manual_seed(0))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())
    b = Batch.from_data_list([d])
    key = graph_keys(d.x[perm], inv[d.edge_index], d.edge_attr, torch.zeros(d.num_nodes, dtype=torch.long), 1)
    assert int(key) == int(graph_keys(b.x, b.edge_index, b.edge_attr, b.batch, 1))
    # a bond type is part of the key
    other = d.edge_attr.clone()
    other[:, 0] = (other[:, 0] + 1) % 4
    assert int(graph_keys(b.x, b.edge_index, other, b.batch, 1)) != int(key)


def test_cache_reused_and_limit(csvs: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = build_mol_corpus(csvs)
    import gcl.data.mol_corpus as mc

    monkeypatch.setattr(mc, "_build", lambda *a, **k: pytest.fail("the cache was not used"))
    again = build_mol_corpus(csvs)
    assert again.smiles == first.smiles and torch.equal(again._data.x, first._data.x)
    sub = build_mol_corpus(csvs, limit=3, seed=1)
    assert len(sub) == 3 and set(sub.smiles) <= set(first.smiles) and sub.stats["limit"] == 3
    assert build_mol_corpus(csvs, limit=3, seed=1).smiles == sub.smiles
    with pytest.raises(ValueError, match="limit must be >= 1"):
        build_mol_corpus(csvs, limit=0)


def test_select_molecules_slices_every_tensor() -> None:
    ds = smiles_to_dataset(["CCO", "c1ccccc1", "CC(=O)O", "CCN"])
    sub = select_molecules(ds, torch.tensor([False, True, False, True]))
    assert sub.smiles == ["c1ccccc1", "CCN"]
    for i, j in ((0, 1), (1, 3)):
        for key in ("x", "edge_index", "edge_attr"):
            assert torch.equal(sub[i][key], ds[j][key])


def test_default_files_and_errors(tmp_path: Path, csvs: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    (root / "moleculenet").mkdir(parents=True)
    _csv(root / "moleculenet" / "m.csv", "smiles\nCCO\n")
    assert default_corpus_files(root) == [root / "moleculenet" / "m.csv"]
    with pytest.raises(gdata.DatasetError, match="no pre-training corpus"):
        default_corpus_files(tmp_path / "empty")
    with pytest.raises(gdata.DatasetError, match="missing file"):
        build_mol_corpus([tmp_path / "nope.csv"])
    monkeypatch.setitem(sys.modules, "rdkit", None)
    with pytest.raises(OptionalDependencyError, match=r"pip install gcl\[chem\]"):
        build_mol_corpus(csvs)
