"""HeCo / MEOW heterogeneous loaders: real ACM and IMDB counts, meta-path path counts, a
synthetic DBLP-layout folder, and every bad-input case with its message."""
from __future__ import annotations

import dataclasses
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import gcl.data
from gcl.data import DatasetError, MissingDatasetError
from gcl.data.hetero import (
    SCHEMAS,
    DuplicateSplitWarning,
    MetaPathCounts,
    get_split,
    incidence_matrix,
    load_hetero,
    metapath_counts,
    read_edge_list,
)

ACM_REL = "hetero/heco/acm"
IMDB_REL = "hetero/meow/imdb"


# --------------------------------------------------------------------------- real ACM


@pytest.fixture(scope="module")
def acm(bundled_root: Path):
    return gcl.data.load("acm", root=bundled_root)


def test_acm_nodes_features_edges(acm, bundled_root: Path) -> None:
    assert acm.target_type == "paper"
    assert acm.name == "acm"
    assert acm.num_classes == 3
    assert {t: acm[t].num_nodes for t in acm.node_types} == {
        "paper": 4019,
        "author": 7167,
        "subject": 60,
    }
    assert tuple(acm["paper"].x.shape) == (4019, 1902)
    assert tuple(acm["author"].x.shape) == (7167, 1902)
    assert acm["paper"].featureless is False and acm["subject"].featureless is True
    assert torch.equal(acm["subject"].x.to_dense(), torch.eye(60))
    # Features are the file's values, not a normalised copy.
    p_feat = sp.load_npz(bundled_root / ACM_REL / "p_feat.npz").toarray()
    assert acm["paper"].x.layout == torch.sparse_coo and acm["paper"].x.dtype == torch.float32
    np.testing.assert_allclose(acm["paper"].x.to_dense().numpy(), p_feat, rtol=1e-6)

    pa = acm["paper", "to", "author"].edge_index
    assert pa.shape == (2, 13407) and pa.dtype == torch.int64
    assert torch.equal(acm["author", "to", "paper"].edge_index, pa.flip(0))
    assert pa[:, 0].tolist() == [0, 2036]  # first line of pa.txt: "0\t2036"
    assert acm["paper", "to", "subject"].edge_index.shape == (2, 4019)
    assert acm.validate()


def test_acm_labels_and_splits(acm) -> None:
    y = acm["paper"].y
    assert y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1993, 965, 1061]
    assert list(acm.label_rates) == [20, 40, 60]
    for rate, n_train in [(20, 60), (40, 120), (60, 180)]:
        train, val, test = get_split(acm, rate)
        assert (train.numel(), val.numel(), test.numel()) == (n_train, 1000, 1000)
        # 'rate' labelled papers per class.
        assert torch.bincount(y[train], minlength=3).tolist() == [rate] * 3
    assert torch.equal(get_split(acm, 20)[0], acm["paper"].train_idx_20)
    with pytest.raises(KeyError, match="no split for label rate 10"):
        get_split(acm, 10)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta state")
def test_acm_metapaths_are_path_counts(acm, bundled_root: Path) -> None:
    mp = acm.metapaths
    assert isinstance(mp, MetaPathCounts)
    assert mp.target == "paper" and list(mp) == ["PAP", "PSP"]
    pap, psp = mp["PAP"], mp["PSP"]
    assert pap.shape == psp.shape == (4019, 4019)
    assert pap.dtype == np.int64
    assert pap.nnz == 57853 and pap.max() == 21
    assert psp.nnz == 4338213
    # Same support as HeCo's boolean pap.npz/psp.npz, but with counts.
    heco_pap = sp.load_npz(bundled_root / ACM_REL / "pap.npz").tocsr().astype(np.int64)
    assert ((pap > 0).astype(np.int64) != heco_pap).nnz == 0
    heco_psp = sp.load_npz(bundled_root / ACM_REL / "psp.npz").tocsr().astype(np.int64)
    assert ((psp > 0).astype(np.int64) != heco_psp).nnz == 0
    # Diagonal of PAP = number of authors per paper; PSP entries are all 1 (one subject each).
    authors_per_paper = np.bincount(
        acm["paper", "to", "author"].edge_index[0].numpy(), minlength=4019
    )
    np.testing.assert_array_equal(pap.diagonal(), authors_per_paper)
    assert psp.max() == 1
    assert (pap != pap.T).nnz == 0
    # Torch views of the same matrix.
    coo = mp.to_torch("PAP")
    assert coo.layout == torch.sparse_coo and coo.is_coalesced() and coo._nnz() == 57853
    csr = mp.to_torch("PAP", dtype=torch.float64, layout=torch.sparse_csr)
    rows = slice(0, 50)
    np.testing.assert_array_equal(csr.to_dense()[rows].numpy(), pap[rows].toarray())
    assert mp["PAP"] is pap  # built once
    with pytest.raises(KeyError, match="unknown meta-path 'PPP'"):
        mp["PPP"]


def test_acm_to_device_keeps_metapaths_lazy(acm) -> None:
    moved = acm.to("cpu")
    assert isinstance(moved.metapaths, MetaPathCounts)
    fresh = gcl.data.load("acm", root=gcl.data.BUNDLED_ROOT).to("cpu")
    assert fresh.metapaths._cache == {}


# --------------------------------------------------------------------------- real IMDB


def test_imdb_counts_and_dedup_warning(bundled_root: Path) -> None:
    with pytest.warns(DuplicateSplitWarning) as record:
        imdb = gcl.data.load("imdb", root=bundled_root)
    messages = [str(w.message) for w in record if w.category is DuplicateSplitWarning]
    assert len(messages) == 2
    assert "train_40.npy: 1 duplicate node id(s) removed (119 distinct of 120)" in messages[0]
    assert "train_60.npy: 5 duplicate node id(s) removed (175 distinct of 180)" in messages[1]

    assert imdb.target_type == "movie"
    assert {t: imdb[t].num_nodes for t in imdb.node_types} == {
        "movie": 4275,
        "actor": 5432,
        "director": 2083,
        "keyword": 7313,
    }
    assert tuple(imdb["movie"].x.shape) == (4275, 5927)
    assert imdb["keyword"].featureless is True
    assert torch.bincount(imdb["movie"].y).tolist() == [1112, 1594, 1569]
    raw = np.load(bundled_root / IMDB_REL / "labels.npy")
    np.testing.assert_array_equal(imdb["movie"].y.numpy(), raw - 1)
    sizes = {r: tuple(t.numel() for t in get_split(imdb, r)) for r in (20, 40, 60)}
    assert sizes == {20: (60, 1000, 1000), 40: (119, 1000, 1000), 60: (175, 1000, 1000)}
    train_40 = np.load(bundled_root / IMDB_REL / "train_40.npy")
    _, first = np.unique(train_40, return_index=True)
    np.testing.assert_array_equal(imdb["movie"].train_idx_40.numpy(), train_40[np.sort(first)])
    assert imdb["movie", "to", "actor"].edge_index.shape == (2, 12831)
    assert imdb["movie", "to", "director"].edge_index.shape == (2, 4181)
    assert imdb["movie", "to", "keyword"].edge_index.shape == (2, 20428)
    # The rebuilt count matrices equal MEOW's own mam/mdm/mkm.npz exactly.
    for name, nnz in [("MAM", 81360), ("MDM", 16498), ("MKM", 319435)]:
        ours = imdb.metapaths[name]
        theirs = sp.load_npz(bundled_root / IMDB_REL / f"{name.lower()}.npz").tocsr()
        assert ours.nnz == nnz
        assert abs(ours - theirs).max() == 0


def test_imdb_faithful_keeps_duplicates(bundled_root: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateSplitWarning)
        imdb = load_hetero(bundled_root / IMDB_REL, "imdb", faithful=True)
    assert imdb["movie"].train_idx_40.numel() == 120
    assert imdb["movie"].train_idx_60.numel() == 180
    assert imdb["movie"].train_idx_40.unique().numel() == 119


def test_registry_names(tmp_path: Path) -> None:
    for name in ("acm", "dblp", "aminer", "freebase"):
        fam, rel = gcl.data.find(name.upper())
        assert fam.kind == "hetero" and rel == f"hetero/heco/{name}"
    fam, rel = gcl.data.find("imdb")
    assert fam.kind == "hetero" and rel == IMDB_REL
    with pytest.raises(MissingDatasetError, match="hetero/heco/freebase"):
        gcl.data.load("freebase", root=tmp_path)


# --------------------------------------------------------------------------- synthetic DBLP


def _write_dblp(folder: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A tiny folder in HeCo's DBLP layout (no apa/apcpa/aptpa files); returns dense incidences."""
    folder.mkdir(parents=True)
    n_a, n_p, n_c, n_t = 12, 30, 4, 9
    pa = [(p, a) for p in range(n_p) for a in rng.choice(n_a, rng.integers(1, 4), replace=False)]
    pc = [(p, int(rng.integers(n_c))) for p in range(n_p)]
    pt = [(p, t) for p in range(n_p) for t in rng.choice(n_t, rng.integers(1, 5), replace=False)]
    pt.append(pt[0])  # a repeated edge counts twice
    authors_with_papers = {a for _, a in pa}
    assert authors_with_papers == set(range(n_a)), "every author needs a paper"
    for stem, rows in [("pa", pa), ("pc", pc), ("pt", pt)]:
        (folder / f"{stem}.txt").write_text("".join(f"{s}\t{d}\n" for s, d in rows))
    sp.save_npz(folder / "a_feat.npz", sp.random(n_a, 7, density=0.3, format="csr", rng=rng))
    sp.save_npz(folder / "p_feat.npz", sp.random(n_p, 5, density=0.3, format="csr", rng=rng))
    np.savez(folder / "t_feat.npz", rng.normal(size=(n_t, 3)))  # a dense feature array
    np.save(folder / "labels.npy", np.arange(n_a) % 4)
    for rate in (20, 40, 60):
        np.save(folder / f"train_{rate}.npy", np.arange(4))
        np.save(folder / f"val_{rate}.npy", np.arange(4, 8))
        np.save(folder / f"test_{rate}.npy", np.arange(8, 12))

    def dense(rows: list, n_dst: int) -> np.ndarray:
        out = np.zeros((n_p, n_dst), dtype=np.int64)
        for s, d in rows:
            out[s, d] += 1
        return out

    return {"pa": dense(pa, n_a), "pc": dense(pc, n_c), "pt": dense(pt, n_t)}


def test_dblp_layout_builds_metapaths_from_edge_lists(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ref = _write_dblp(root / "hetero/heco/dblp", np.random.default_rng(0))
    assert not (root / "hetero/heco/dblp/aptpa.npz").exists()
    data = gcl.data.load("dblp", root=root)

    assert data.target_type == "author" and data.name == "dblp"
    assert list(data.metapaths) == ["APA", "APCPA", "APTPA"]
    # Conference has no feature file: its count is DBLP's upstream 20.
    assert {t: data[t].num_nodes for t in data.node_types} == {
        "author": 12,
        "paper": 30,
        "conference": 20,
        "term": 9,
    }
    assert data["conference"].featureless and not data["term"].featureless
    assert tuple(data["term"].x.shape) == (9, 3)
    assert torch.bincount(data["author"].y).tolist() == [3, 3, 3, 3]
    assert data["paper", "to", "author"].edge_index.shape[1] == int(ref["pa"].sum())
    assert data.validate()

    pa, pc, pt = ref["pa"], ref["pc"], ref["pt"]
    expected = {
        "APA": pa.T @ pa,
        "APCPA": pa.T @ pc @ pc.T @ pa,
        "APTPA": pa.T @ pt @ pt.T @ pa,
    }
    for name, dense in expected.items():
        got = data.metapaths[name]
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.toarray(), dense, err_msg=name)
    assert expected["APTPA"].max() >= 2  # the test exercises real counts, not 0/1

    small = gcl.data.load("dblp", root=root, num_nodes={"conference": 4})
    assert small["conference"].num_nodes == 4
    np.testing.assert_array_equal(small.metapaths["APCPA"].toarray(), expected["APCPA"])


def test_dblp_layout_runs_meow_with_long_metapath_contexts(tmp_path: Path) -> None:
    from gcl.data.metapath_graphs import prepare_metapath_graphs
    from gcl.methods.meow import MEOW, MEOWConfig

    root = tmp_path / "root"
    ref = _write_dblp(root / "hetero/heco/dblp", np.random.default_rng(0))
    data = gcl.data.load("dblp", root=root, num_nodes={"conference": 4})
    g = prepare_metapath_graphs(data, 5, seed=0)
    assert [[t for t, _ in prefixes] for prefixes in g.contexts] == [["paper"], ["paper", "conference"],
                                                                      ["paper", "term"]]
    # The APC prefix: the mean over the distinct conferences of an author's papers.
    reach = (ref["pa"].T @ ref["pc"]) > 0
    expected = reach / reach.sum(1, keepdims=True)
    np.testing.assert_allclose(g.contexts[1][1][1].to_dense().numpy(), expected, rtol=1e-6)
    torch.manual_seed(0)
    model = MEOW(g, MEOWConfig(hidden=8, num_clusters=(3, 4), topk=(5,), adj_mask=(0.2,)))
    loss, _ = model.loss(g, *g.augmented(0.3, [0.2] * 3, torch.Generator().manual_seed(0)))
    loss.backward()
    assert torch.isfinite(loss) and model.encoder.context_proj[1].weight.grad is not None


def test_metapath_counts_general_chain() -> None:
    rng = np.random.default_rng(1)
    pa = rng.integers(0, 2, size=(7, 5))
    pc = rng.integers(0, 3, size=(7, 3))
    inc = {"pa": sp.csr_matrix(pa), "pc": sp.csr_matrix(pc)}
    np.testing.assert_array_equal(metapath_counts("APC", inc).toarray(), pa.T @ pc)
    np.testing.assert_array_equal(metapath_counts("CPA", inc).toarray(), pc.T @ pa)
    np.testing.assert_array_equal(metapath_counts("PAPCP", inc).toarray(), pa @ pa.T @ pc @ pc.T)
    with pytest.raises(ValueError, match="no relation between 'a' and 'c'"):
        metapath_counts("ACA", inc)
    edges = np.array([[0, 1], [0, 1], [2, 0]])
    np.testing.assert_array_equal(
        incidence_matrix(edges, 3, 2).toarray(), [[0, 2], [0, 0], [1, 0]]
    )


# --------------------------------------------------------------------------- bad inputs


def _write_acm_like(folder: Path) -> Path:
    """A tiny, valid ACM-layout folder: 8 papers, 6 authors, subjects among ACM's 60."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pa.txt").write_text("0\t0\n0\t1\n1\t2\n2\t3\n3\t4\n4\t5\n5\t0\n6\t1\n7\t2\n")
    (folder / "ps.txt").write_text("0\t3\n1\t3\n2\t7\n3\t7\n4\t59\n5\t59\n6\t3\n7\t7\n")
    sp.save_npz(folder / "p_feat.npz", sp.csr_matrix(np.eye(8, 5)))
    sp.save_npz(folder / "a_feat.npz", sp.csr_matrix(np.ones((6, 5))))
    np.save(folder / "labels.npy", np.array([0, 1, 2, 0, 1, 2, 0, 1], dtype=np.float64))
    for rate in (20, 40, 60):
        np.save(folder / f"train_{rate}.npy", np.array([0, 1, 2]))
        np.save(folder / f"val_{rate}.npy", np.array([3, 4]))
        np.save(folder / f"test_{rate}.npy", np.array([5, 6, 7]))
    return folder


@pytest.fixture
def acm_like(tmp_path: Path) -> Path:
    return _write_acm_like(tmp_path / "acm")


def test_tiny_acm_like_folder_loads(acm_like: Path) -> None:
    data = load_hetero(acm_like, "acm")
    assert data["subject"].num_nodes == 60
    assert data["paper"].y.tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    first_row = data.metapaths["PSP"][0].toarray()[0, :8]
    np.testing.assert_array_equal(first_row, [1, 1, 0, 0, 0, 0, 1, 0])


def test_missing_files_are_all_named(acm_like: Path) -> None:
    (acm_like / "ps.txt").unlink()
    (acm_like / "val_40.npy").unlink()
    (acm_like / "a_feat.npz").unlink()
    expected = r"missing file\(s\): ps\.txt, a_feat\.npz, val_40\.npy"
    with pytest.raises(DatasetError, match=expected):
        load_hetero(acm_like, "acm")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nope: expected a dataset folder"):
        load_hetero(tmp_path / "nope", "acm")


def test_edge_id_out_of_range_names_file_and_line(acm_like: Path) -> None:
    (acm_like / "pa.txt").write_text("0\t0\n1\t1\n2\t99\n3\t6\n")
    expected = r"pa\.txt, line 3: author id 99 out of range: author ids must be in \[0, 6\) \(2 such"
    with pytest.raises(DatasetError, match=expected) as info:
        load_hetero(acm_like, "acm")
    assert info.value.line == 3 and info.value.path.name == "pa.txt"


def test_edge_line_number_skips_blank_lines(acm_like: Path) -> None:
    (acm_like / "ps.txt").write_text("0\t3\n\n# comment\n1\t60\n")
    with pytest.raises(DatasetError, match=r"ps\.txt, line 4: subject id 60 out of range.*\[0, 60\)"):
        load_hetero(acm_like, "acm")


def test_target_id_out_of_range(acm_like: Path) -> None:
    (acm_like / "ps.txt").write_text("0\t3\n8\t3\n")
    with pytest.raises(DatasetError, match=r"ps\.txt, line 2: paper id 8 out of range"):
        load_hetero(acm_like, "acm")


def test_negative_edge_id(acm_like: Path) -> None:
    (acm_like / "pa.txt").write_text("0\t0\n-1\t2\n")
    with pytest.raises(DatasetError, match=r"pa\.txt, line 2: negative node id in \[-1, 2\]"):
        load_hetero(acm_like, "acm")


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_empty_edge_list(acm_like: Path, content: str) -> None:
    (acm_like / "pa.txt").write_text(content)
    with pytest.raises(DatasetError, match=r"pa\.txt: empty edge list"):
        load_hetero(acm_like, "acm")


def test_wrong_column_count_on_one_line(acm_like: Path) -> None:
    (acm_like / "ps.txt").write_text("0\t3\n1\t3\t5\n2\t7\n")
    with pytest.raises(DatasetError, match=r"ps\.txt, line 2: expected 2 columns .*found 3"):
        load_hetero(acm_like, "acm")


def test_wrong_column_count_everywhere(acm_like: Path) -> None:
    (acm_like / "ps.txt").write_text("0\n1\n2\n")
    with pytest.raises(DatasetError, match=r"ps\.txt, line 1: expected 2 columns .*found 1"):
        load_hetero(acm_like, "acm")


def test_non_integer_id(acm_like: Path) -> None:
    (acm_like / "pa.txt").write_text("0 0\n1 1\n2 2\n3 x\n")
    with pytest.raises(DatasetError, match=r"pa\.txt, line 4: expected integer node ids, found 'x'"):
        load_hetero(acm_like, "acm")
    (acm_like / "pa.txt").write_text("0 0\n1 1.5\n")
    with pytest.raises(DatasetError, match=r"pa\.txt, line 2: expected integer node ids, found '1\.5'"):
        load_hetero(acm_like, "acm")


def test_integral_float_ids_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "pa.txt"
    path.write_text("0.0 2.0\n3 1\n")
    np.testing.assert_array_equal(read_edge_list(path), [[0, 2], [3, 1]])


def test_label_feature_row_mismatch(acm_like: Path) -> None:
    sp.save_npz(acm_like / "p_feat.npz", sp.csr_matrix(np.eye(7, 5)))
    with pytest.raises(DatasetError, match=r"p_feat\.npz: 7 feature rows but labels\.npy has 8 labels"):
        load_hetero(acm_like, "acm")


def test_truncated_real_feature_npz(acm_like: Path, bundled_root: Path) -> None:
    real = (bundled_root / ACM_REL / "p_feat.npz").read_bytes()
    (acm_like / "p_feat.npz").write_bytes(real[: len(real) // 2])
    with pytest.raises(DatasetError, match=r"p_feat\.npz: cannot read \.npz features \(truncated or corrupt"):
        load_hetero(acm_like, "acm")


def test_corrupt_npz_member(acm_like: Path) -> None:
    raw = bytearray((acm_like / "a_feat.npz").read_bytes())
    raw[60:80] = b"\xff" * 20  # damage the first member's data
    (acm_like / "a_feat.npz").write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"a_feat\.npz: cannot read \.npz features"):
        load_hetero(acm_like, "acm")


def test_truncated_labels_npy(acm_like: Path, bundled_root: Path) -> None:
    real = (bundled_root / ACM_REL / "labels.npy").read_bytes()
    (acm_like / "labels.npy").write_bytes(real[:1000])
    with pytest.raises(DatasetError, match=r"labels\.npy: cannot read \.npy array \(truncated or corrupt"):
        load_hetero(acm_like, "acm")


def test_truncated_split_npy(acm_like: Path) -> None:
    raw = (acm_like / "test_60.npy").read_bytes()
    (acm_like / "test_60.npy").write_bytes(raw[:50])
    with pytest.raises(DatasetError, match=r"test_60\.npy: cannot read \.npy array"):
        load_hetero(acm_like, "acm")


def test_pickled_object_array_is_refused(acm_like: Path, bundled_root: Path) -> None:
    shutil.copy(bundled_root / ACM_REL / "nei_a.npy", acm_like / "labels.npy")
    with pytest.raises(DatasetError, match=r"labels\.npy: cannot read \.npy array"):
        load_hetero(acm_like, "acm")


def test_split_id_out_of_range(acm_like: Path) -> None:
    np.save(acm_like / "test_20.npy", np.array([5, 50]))
    with pytest.raises(DatasetError, match=r"test_20\.npy: node id 50 \(position 1\) out of range.*\[0, 8\)"):
        load_hetero(acm_like, "acm")


def test_split_duplicates_warn_generically(acm_like: Path) -> None:
    np.save(acm_like / "val_20.npy", np.array([4, 3, 4]))
    with pytest.warns(DuplicateSplitWarning, match=r"val_20\.npy: 1 duplicate node id"):
        data = load_hetero(acm_like, "acm")
    assert data["paper"].val_idx_20.tolist() == [4, 3]


def test_bad_labels(acm_like: Path) -> None:
    np.save(acm_like / "labels.npy", np.array([0, 1, 2, 0.5, 1, 2, 0, 1]))
    with pytest.raises(DatasetError, match=r"labels\.npy: expected integer class ids, found non-integral"):
        load_hetero(acm_like, "acm")
    np.save(acm_like / "labels.npy", np.zeros((8, 3)))
    with pytest.raises(DatasetError, match=r"labels\.npy: expected a 1-D array of class ids, found shape \(8, 3\)"):
        load_hetero(acm_like, "acm")


def test_labels_below_offset(acm_like: Path) -> None:
    one_based = dataclasses.replace(SCHEMAS["acm"], label_offset=1)
    with pytest.raises(DatasetError, match=r"labels\.npy: class id 0 below the first class id 1"):
        load_hetero(acm_like, one_based)


def test_num_nodes_override_conflicts(acm_like: Path) -> None:
    with pytest.raises(DatasetError, match=r"a_feat\.npz: 6 feature rows but num_nodes\['author'\] = 9"):
        load_hetero(acm_like, "acm", num_nodes={"author": 9})
    with pytest.raises(DatasetError, match=r"labels\.npy: 8 labels but num_nodes\['paper'\] = 9"):
        load_hetero(acm_like, "acm", num_nodes={"paper": 9})
