"""Tests of gcl.data.interactions: LightGCN text layout, pickled matrices, validation carving."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import gcl.data
from gcl.data import DatasetError, InteractionGraph
from gcl.data.interactions import (
    carve_validation,
    load_interactions,
    load_lightgcn,
    load_lightgcn_files,
    load_pickled_matrices,
)

GOWALLA_USERS = 29_858
GOWALLA_ITEMS = 40_981
GOWALLA_TRAIN = 810_128
GOWALLA_TEST = 217_242


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _row_items(mat: torch.Tensor, user: int) -> list[int]:
    crow, col = mat.crow_indices(), mat.col_indices()
    return col[crow[user] : crow[user + 1]].tolist()


def _text_rows(path: Path, users: list[int]) -> dict[int, list[int]]:
    """Plain-Python reading of the given users' lines, as the reference."""
    out = {}
    for line in path.read_text().splitlines():
        tok = line.split()
        if tok and int(tok[0]) in users:
            out[int(tok[0])] = sorted(set(int(t) for t in tok[1:]))
    return out


# ---------------------------------------------------------------------------------------
# Real Gowalla
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gowalla_full(shared_root: Path) -> InteractionGraph:
    return gcl.data.load("gowalla", root=shared_root, valid_ratio=0)


def test_gowalla_counts(gowalla_full: InteractionGraph) -> None:
    g = gowalla_full
    assert (g.n_users, g.n_items) == (GOWALLA_USERS, GOWALLA_ITEMS)
    assert (g.n_train, g.n_valid, g.n_test) == (GOWALLA_TRAIN, 0, GOWALLA_TEST)
    assert g.valid_origin == "none"
    assert g.train.layout == torch.sparse_csr and g.train.dtype == torch.float32
    assert torch.all(g.train.values() == 1)
    assert g.train.shape == (GOWALLA_USERS, GOWALLA_ITEMS)
    r = repr(g)
    assert "users=29,858" in r and "items=40,981" in r and "train=810,128" in r and "test=217,242" in r


def test_gowalla_rows_match_text(gowalla_full: InteractionGraph, shared_root: Path) -> None:
    folder = shared_root / "recsys" / "gowalla"
    users = [0, 1, 2, 15_000, GOWALLA_USERS - 1]
    train = _text_rows(folder / "train.txt", users)
    test = _text_rows(folder / "test.txt", users)
    assert train[1] == list(range(127, 176))  # "1 127 128 ... 175" in train.txt
    for u in users:
        assert _row_items(gowalla_full.train, u) == train[u]
        assert _row_items(gowalla_full.test, u) == test[u]
    # "1 31613 34341 36414 36721 16213 19928 37961 38230 22103 22105 19926 19927 2525"
    assert _row_items(gowalla_full.test, 1) == sorted(
        [31613, 34341, 36414, 36721, 16213, 19928, 37961, 38230, 22103, 22105, 19926, 19927, 2525]
    )


def test_gowalla_default_carves_validation(shared_root: Path, gowalla_full: InteractionGraph) -> None:
    g = gcl.data.load("gowalla", root=shared_root)
    assert g.valid_origin == "train"
    assert g.n_train + g.n_valid == GOWALLA_TRAIN
    assert g.n_test == GOWALLA_TEST
    # valid and train partition the full training set
    def keys(graph: InteractionGraph, split: str) -> np.ndarray:
        u, i = graph.pairs(split)
        return u.numpy() * GOWALLA_ITEMS + i.numpy()

    tr, va, full = keys(g, "train"), keys(g, "valid"), keys(gowalla_full, "train")
    assert np.intersect1d(tr, va).size == 0
    assert np.array_equal(np.sort(np.concatenate([tr, va])), full)
    # per-user rule: k = clip(round_half_up(0.1 d), 1, d - 1) for d >= 2
    d = gowalla_full.user_degrees().numpy()
    k = np.clip(np.floor(0.1 * d + 0.5), 1, d - 1)
    assert np.array_equal(g.user_degrees("valid").numpy(), k)


def test_gowalla_registry(shared_root: Path) -> None:
    assert "gowalla" in gcl.data.known_names(shared_root)
    found = {a.name: a for a in gcl.data.available(shared_root)}
    assert found["gowalla"].kind == "interactions"
    assert found["gowalla"].path == shared_root / "recsys" / "gowalla"


def test_gowalla_pairs_and_adjacency(gowalla_full: InteractionGraph) -> None:
    users, items = gowalla_full.train_pairs()
    assert users.dtype == torch.int64 and users.shape == (GOWALLA_TRAIN,)
    assert torch.all(users[1:] >= users[:-1])
    adj = gowalla_full.normalized_adjacency()
    n = GOWALLA_USERS + GOWALLA_ITEMS
    assert adj.shape == (n, n) and adj.layout == torch.sparse_csr
    assert adj.col_indices().numel() == 2 * GOWALLA_TRAIN
    # symmetric: A^T x == A x for a random x
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    ax = adj @ x
    atx = (adj.to_sparse_coo().t() @ x)
    assert torch.allclose(ax, atx, atol=1e-5)
    assert adj is gowalla_full.normalized_adjacency()  # cached


# ---------------------------------------------------------------------------------------
# Small synthetic graphs
# ---------------------------------------------------------------------------------------


def _tiny() -> InteractionGraph:
    # user 3 has no training item; item 4 is never interacted with
    train = ([0, 0, 1, 1, 1, 2, 0], [0, 1, 1, 2, 3, 0, 0])  # (0, 0) listed twice
    test = ([0, 3], [2, 1])
    return InteractionGraph.from_pairs(4, 5, train, test, name="tiny")


def test_from_pairs_binary_and_counts() -> None:
    g = _tiny()
    assert (g.n_users, g.n_items, g.n_train, g.n_valid, g.n_test) == (4, 5, 6, 0, 2)
    assert _row_items(g.train, 0) == [0, 1]
    assert _row_items(g.train, 3) == []
    assert g.user_degrees().tolist() == [2, 3, 1, 0]
    assert g.item_degrees().tolist() == [2, 2, 1, 1, 0]
    u, i = g.train_pairs()
    assert u.tolist() == [0, 0, 1, 1, 1, 2] and i.tolist() == [0, 1, 1, 2, 3, 0]
    with pytest.raises(ValueError, match="item ids must lie in"):
        InteractionGraph.from_pairs(2, 2, ([0], [2]), ([0], [0]))
    with pytest.raises(ValueError, match="user ids must lie in"):
        InteractionGraph.from_pairs(2, 2, ([-1], [0]), ([0], [0]))


def test_normalized_adjacency_matches_dense_reference() -> None:
    g = _tiny()
    r = np.zeros((4, 5))
    r[[0, 0, 1, 1, 1, 2], [0, 1, 1, 2, 3, 0]] = 1
    a = np.block([[np.zeros((4, 4)), r], [r.T, np.zeros((5, 5))]])
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0)
    ref = inv[:, None] * a * inv[None, :]
    got = g.normalized_adjacency()
    assert got.layout == torch.sparse_csr
    np.testing.assert_allclose(got.to_dense().numpy(), ref, rtol=1e-6, atol=1e-7)
    # columns sorted within rows (canonical CSR)
    crow, col = got.crow_indices(), got.col_indices()
    for row in range(got.shape[0]):
        c = col[crow[row] : crow[row + 1]]
        assert torch.all(c[1:] > c[:-1])


def test_seen_before_and_to() -> None:
    g = InteractionGraph.from_pairs(2, 4, ([0, 1], [0, 1]), ([0], [3]), ([0], [2]))
    assert g.valid_origin == "file"
    assert g.seen_before("valid") is g.train
    assert g.seen_before("test").to_dense().tolist() == [[1, 0, 1, 0], [0, 1, 0, 0]]
    g.normalized_adjacency()
    h = g.to("cpu")
    assert h.n_train == 2 and h.device.type == "cpu" and h._norm_adj is not None
    if torch.cuda.is_available():
        c = g.to("cuda")
        assert c.train.is_cuda and c.normalized_adjacency().is_cuda
        assert torch.equal(c.train_pairs()[1].cpu(), g.train_pairs()[1])


# ---------------------------------------------------------------------------------------
# Validation carving
# ---------------------------------------------------------------------------------------


def test_carve_rule_and_reproducibility() -> None:
    degrees = np.array([1, 2, 3, 9, 10, 15, 25, 40, 0])
    users = np.repeat(np.arange(degrees.size), degrees)
    rng = np.random.default_rng(5)
    users = users[rng.permutation(users.size)]  # any order
    mask = carve_validation(users, degrees.size, 0.1, seed=3)
    moved = np.bincount(users[mask], minlength=degrees.size)
    # k = clip(floor(0.1 d + 0.5), 1, d - 1), 0 for d < 2:
    # d=1 -> 0; d=2 -> 1 (keeps 1); d=3 -> 1; 9 -> 1; 10 -> 1; 15 -> 2; 25 -> 3; 40 -> 4
    assert moved.tolist() == [0, 1, 1, 1, 1, 2, 3, 4, 0]
    assert np.array_equal(carve_validation(users, degrees.size, 0.1, seed=3), mask)
    assert not np.array_equal(carve_validation(users, degrees.size, 0.1, seed=4), mask)
    assert not carve_validation(users, degrees.size, 0.0).any()
    big = carve_validation(users, degrees.size, 0.5, seed=0)  # halves round up, capped at d-1
    assert np.bincount(users[big], minlength=degrees.size).tolist() == [0, 1, 2, 5, 5, 8, 13, 20, 0]
    with pytest.raises(ValueError, match="valid_ratio"):
        carve_validation(users, degrees.size, 1.0)


def test_carved_split_disjoint_and_seeded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = [f"{u} " + " ".join(map(str, rng.choice(50, size=rng.integers(1, 30), replace=False)))
             for u in range(40)]
    _write(tmp_path / "d" / "train.txt", "\n".join(lines) + "\n")
    _write(tmp_path / "d" / "test.txt", "0 1\n5 7\n")
    a = load_lightgcn(tmp_path / "d", valid_ratio=0.2, seed=1)
    b = load_lightgcn(tmp_path / "d", valid_ratio=0.2, seed=1)
    c = load_lightgcn(tmp_path / "d", valid_ratio=0.2, seed=2)
    full = load_lightgcn(tmp_path / "d", valid_ratio=0)
    assert torch.equal(a.valid.to_dense(), b.valid.to_dense())
    assert not torch.equal(a.valid.to_dense(), c.valid.to_dense())
    assert torch.all(a.train.to_dense() * a.valid.to_dense() == 0)
    assert torch.equal(a.train.to_dense() + a.valid.to_dense(), full.train.to_dense())
    d = full.user_degrees()
    assert torch.all(a.user_degrees()[d >= 1] >= 1)  # nobody loses all training items
    assert a.n_valid > 0 and a.valid_origin == "train"


# ---------------------------------------------------------------------------------------
# LightGCN text layout: good and bad input
# ---------------------------------------------------------------------------------------


def test_text_layout_user_without_items_and_lists(tmp_path: Path) -> None:
    d = tmp_path / "set"
    _write(d / "train.txt", "0 1 2 3\n1\n2 0 0 4\n\n")  # user 1 has no items; blank line
    _write(d / "test.txt", "0 4\n1 2\r\n3 6\n")  # user 3 only in test, item 6 only in test
    g = load_lightgcn(d, valid_ratio=0)
    assert (g.n_users, g.n_items, g.n_train, g.n_test) == (4, 7, 5, 3)
    assert _row_items(g.train, 1) == [] and _row_items(g.train, 2) == [0, 4]
    _write(d / "item_list.txt", "org_id remap_id\n" + "".join(f"x{i} {i}\n" for i in range(10)))
    _write(d / "user_list.txt", "org_id remap_id\n" + "".join(f"{i} {i}\n" for i in range(6)))
    g = load_lightgcn(d, valid_ratio=0)
    assert (g.n_users, g.n_items) == (6, 10)
    _write(d / "valid.txt", "2 3\n")
    g = load_lightgcn(d)
    assert g.valid_origin == "file" and g.n_valid == 1 and g.n_train == 5


def test_missing_test_file(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "train.txt", "0 1\n")
    with pytest.raises(DatasetError, match=r"test\.txt: file not found"):
        load_lightgcn(tmp_path / "d")


def test_missing_train_file(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "test.txt", "0 1\n")
    with pytest.raises(DatasetError, match=r"train\.txt: file not found"):
        load_interactions(tmp_path / "d")


def test_folder_without_layout(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(DatasetError, match=r"expected a folder holding train\.txt \+ test\.txt"):
        load_interactions(tmp_path / "d")


def test_non_integer_token_names_file_and_line(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.txt", "0 1 2\n1 3 x4\n")
    test = _write(tmp_path / "test.txt", "0 3\n")
    with pytest.raises(DatasetError, match=r"train\.txt, line 2: not an integer: 'x4'") as err:
        load_lightgcn_files(train, test)
    assert err.value.line == 2 and err.value.path == train


def test_float_token(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.txt", "0 1 2\n")
    test = _write(tmp_path / "test.txt", "0 3\n\n1 2.5\n")
    with pytest.raises(DatasetError, match=r"test\.txt, line 3: not an integer: '2\.5'"):
        load_lightgcn_files(train, test)


def test_negative_ids(tmp_path: Path) -> None:
    test = _write(tmp_path / "test.txt", "0 3\n")
    train = _write(tmp_path / "train.txt", "0 1\n1 2 -3\n")
    with pytest.raises(DatasetError, match=r"train\.txt, line 2: negative item id -3"):
        load_lightgcn_files(train, test)
    train = _write(tmp_path / "train.txt", "0 1\n-1 2\n")
    with pytest.raises(DatasetError, match=r"train\.txt, line 2: negative user id -1"):
        load_lightgcn_files(train, test)


def test_ids_beyond_item_and_user_lists(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.txt", "0 1 2\n1 0\n")
    test = _write(tmp_path / "test.txt", "0 3\n1 5\n")
    items = _write(tmp_path / "item_list.txt", "org_id remap_id\na 0\nb 1\nc 2\nd 3\n")
    with pytest.raises(DatasetError, match=r"test\.txt, line 2: item id 5 is beyond the 4 items listed in item_list\.txt"):
        load_lightgcn_files(train, test, item_list=items)
    users = _write(tmp_path / "user_list.txt", "org_id remap_id\n7 0\n")
    with pytest.raises(DatasetError, match=r"train\.txt, line 2: user id 1 is beyond the 1 users listed in user_list\.txt"):
        load_lightgcn_files(train, test, user_list=users)
    bad = _write(tmp_path / "bad_list.txt", "org_id remap_id\na 0\nb one\n")
    with pytest.raises(DatasetError, match=r"bad_list\.txt, line 3: remap id 'one'"):
        load_lightgcn_files(train, test, item_list=bad)


def test_empty_files(tmp_path: Path) -> None:
    test = _write(tmp_path / "test.txt", "0 3\n")
    train = _write(tmp_path / "train.txt", "")
    with pytest.raises(DatasetError, match=r"train\.txt: empty file"):
        load_lightgcn_files(train, test)
    train = _write(tmp_path / "train.txt", " \n\n\t\n")
    with pytest.raises(DatasetError, match=r"train\.txt: empty file"):
        load_lightgcn_files(train, test)
    train = _write(tmp_path / "train.txt", "0\n1\n")
    with pytest.raises(DatasetError, match=r"train\.txt: no interactions"):
        load_lightgcn_files(train, test)


# ---------------------------------------------------------------------------------------
# Pickled matrices
# ---------------------------------------------------------------------------------------


def _pickle(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)
    return path


def _mat(rows: list[int], cols: list[int], shape: tuple[int, int], fmt: str = "coo") -> sp.spmatrix:
    m = sp.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    return m.asformat(fmt)


def test_pickled_matrices_roundtrip(tmp_path: Path) -> None:
    d = tmp_path / "recsys" / "LightGCL_set"
    trn = _mat([0, 0, 1, 2, 2, 2], [0, 3, 1, 0, 2, 4], (3, 6), "coo")
    tst = _mat([0, 1], [5, 2], (3, 6), "csr")
    _pickle(d / "trnMat.pkl", trn)
    _pickle(d / "tstMat.pkl", tst)
    g = load_pickled_matrices(d / "trnMat.pkl", d / "tstMat.pkl", valid_ratio=0)
    assert (g.n_users, g.n_items, g.n_train, g.n_test) == (3, 6, 6, 2)
    np.testing.assert_array_equal(g.train.to_dense().numpy(), trn.toarray())
    np.testing.assert_array_equal(g.test.to_dense().numpy(), tst.toarray())
    # registry folder loader with an explicit validation matrix
    _pickle(d / "valMat.pkl", _mat([2], [5], (3, 6)))
    g = load_interactions(d)
    assert g.valid_origin == "file" and g.valid.to_dense()[2, 5] == 1 and g.n_valid == 1


def test_pickled_values_are_binarised(tmp_path: Path) -> None:
    trn = sp.coo_matrix((np.array([5.0, 0.0, 2.0]), ([0, 1, 1], [0, 1, 2])), shape=(2, 3))
    g = load_pickled_matrices(_pickle(tmp_path / "a.pkl", trn), _pickle(tmp_path / "b.pkl", _mat([0], [1], (2, 3))),
                              valid_ratio=0)
    assert g.train.to_dense().tolist() == [[1, 0, 0], [0, 0, 1]]  # explicit zero dropped


def test_pickled_shape_mismatch(tmp_path: Path) -> None:
    trn = _pickle(tmp_path / "trnMat.pkl", _mat([0], [0], (3, 6)))
    tst = _pickle(tmp_path / "tstMat.pkl", _mat([0], [0], (3, 7)))
    with pytest.raises(DatasetError, match=r"tstMat\.pkl: matrix shape \(3, 7\) does not match .*\(3, 6\) of trnMat\.pkl"):
        load_pickled_matrices(trn, tst)


def test_pickled_truncated(tmp_path: Path) -> None:
    trn = _pickle(tmp_path / "trnMat.pkl", _mat([0, 1, 2], [0, 1, 2], (3, 6)))
    tst = _pickle(tmp_path / "tstMat.pkl", _mat([0], [4], (3, 6)))
    data = trn.read_bytes()
    trn.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"trnMat\.pkl: truncated or corrupt pickle"):
        load_pickled_matrices(trn, tst)
    tst.write_bytes(b"not a pickle at all")
    with pytest.raises(DatasetError, match=r"tstMat\.pkl: truncated or corrupt pickle"):
        load_pickled_matrices(_pickle(tmp_path / "ok.pkl", _mat([0], [0], (3, 6))), tst)


def test_pickled_not_a_matrix(tmp_path: Path) -> None:
    trn = _pickle(tmp_path / "trnMat.pkl", {"rows": [0, 1]})
    tst = _pickle(tmp_path / "tstMat.pkl", _mat([0], [4], (3, 6)))
    with pytest.raises(DatasetError, match=r"trnMat\.pkl: holds a dict, expected a pickled scipy\.sparse"):
        load_pickled_matrices(trn, tst)
    trn = _pickle(tmp_path / "trnMat.pkl", np.ones((3, 6)))
    with pytest.raises(DatasetError, match=r"trnMat\.pkl: holds a ndarray"):
        load_pickled_matrices(trn, tst)


def test_pickled_missing(tmp_path: Path) -> None:
    trn = _pickle(tmp_path / "trnMat.pkl", _mat([0], [0], (3, 6)))
    with pytest.raises(DatasetError, match=r"tstMat\.pkl: file not found"):
        load_pickled_matrices(trn, tmp_path / "tstMat.pkl")


# ---------------------------------------------------------------------------------------
# Open-ended discovery
# ---------------------------------------------------------------------------------------


def test_discover_and_load_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "recsys" / "My_Set" / "train.txt", "0 1 2\n1 0\n")
    _write(tmp_path / "recsys" / "My_Set" / "test.txt", "0 3\n")
    _pickle(tmp_path / "recsys" / "pk" / "trnMat.pkl", _mat([0], [0], (2, 2)))
    _pickle(tmp_path / "recsys" / "pk" / "tstMat.pkl", _mat([1], [1], (2, 2)))
    (tmp_path / "recsys" / "not-a-set").mkdir()
    names = gcl.data.known_names(tmp_path)
    assert "my-set" in names and "pk" in names and "not-a-set" not in names
    monkeypatch.setenv("GCL_DATA", str(tmp_path))
    g = gcl.data.load("my-set", valid_ratio=0)
    assert (g.n_users, g.n_items, g.n_train, g.n_test, g.name) == (2, 4, 3, 1, "my-set")
    assert gcl.data.load("PK").n_test == 1
