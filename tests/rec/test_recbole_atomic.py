"""RecBole atomic files written from an InteractionGraph (no RecBole needed, except the
round-trip test at the end)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gcl.data import InteractionGraph
from gcl.rec.recbole.atomic import (
    format_int_table,
    recbole_split_config,
    split_paths,
    write_atomic_file,
    write_interaction_splits,
)


def _graph(seed: int = 0) -> InteractionGraph:
    rng = np.random.default_rng(seed)
    n_u, n_i = 37, 1203  # item ids of 1 to 4 digits
    pairs = {s: (rng.integers(0, n_u, n), rng.integers(0, n_i, n))
             for s, n in (("train", 400), ("valid", 60), ("test", 90))}
    return InteractionGraph.from_pairs(n_u, n_i, pairs["train"], pairs["test"], pairs["valid"],
                                       name="tiny")


def _read(path: Path) -> tuple[str, np.ndarray]:
    lines = path.read_text().splitlines()
    body = np.array([[int(x) for x in line.split("\t")] for line in lines[1:]], dtype=np.int64)
    return lines[0], body.reshape(-1, 2)


def test_format_int_table_matches_python_formatting() -> None:
    rng = np.random.default_rng(1)
    a = np.concatenate([[0, 9, 10, 99, 100, 2**63 - 1], rng.integers(0, 10**12, 200)])
    b = rng.integers(0, 1000, a.size)
    expected = "".join(f"{x}\t{y}\n" for x, y in zip(a.tolist(), b.tolist())).encode()
    assert format_int_table([a, b]) == expected
    assert format_int_table([np.zeros(0, np.int64)]) == b""
    assert format_int_table([np.array([5, 12])], sep=" ") == b"5\n12\n"


def test_split_files_hold_exactly_the_graph(tmp_path: Path) -> None:
    g = _graph()
    paths = write_interaction_splits(g, tmp_path)
    assert paths == split_paths(tmp_path, "tiny")
    for split, path in paths.items():
        assert path.name == f"tiny.{split}.inter"
        header, body = _read(path)
        assert header == "user_id:token\titem_id:token"
        u, i = (t.numpy() for t in g.pairs(split))
        np.testing.assert_array_equal(body, np.stack([u, i], 1))
    # no temporary file is left behind
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == sorted(p.name for p in paths.values())


def test_empty_split_gets_header_only(tmp_path: Path) -> None:
    g = InteractionGraph.from_pairs(3, 4, ([0, 1], [2, 3]), ([2], [0]), name="e")
    paths = write_interaction_splits(g, tmp_path)
    assert paths["valid"].read_text() == "user_id:token\titem_id:token\n"


def test_bad_input_raises_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "x.inter"
    with pytest.raises(ValueError, match="negative"):
        write_atomic_file(target, [("user_id", "token")], [np.array([1, -2])])
    with pytest.raises(ValueError, match="lengths"):
        write_atomic_file(target, [("a", "token"), ("b", "token")], [np.arange(3), np.arange(2)])
    with pytest.raises(ValueError, match="integers"):
        write_atomic_file(target, [("a", "float")], [np.array([0.5])])
    with pytest.raises(ValueError, match="fields"):
        write_atomic_file(target, [("a", "token")], [])
    with pytest.raises(ValueError, match="token_seq|'token' or"):
        write_atomic_file(target, [("a", "token_seq")], [np.arange(2)])
    with pytest.raises(ValueError, match="name"):
        write_interaction_splits(_graph(), tmp_path, name="a/b")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_config_points_recbole_at_the_split_files(tmp_path: Path) -> None:
    cfg = recbole_split_config(tmp_path, "tiny")
    assert cfg["benchmark_filename"] == ["train", "valid", "test"]
    assert cfg["data_path"] == str(tmp_path) and cfg["dataset"] == "tiny"
    assert cfg["load_col"] == {"inter": ["user_id", "item_id"]}


_ROUND_TRIP = r"""
import sys, numpy as np
from gcl.rec.recbole.compat import import_recbole
import_recbole()
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from gcl.rec.recbole.atomic import recbole_split_config
root, n_u, n_i = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = dict(recbole_split_config(root, "tiny"), device="cpu", use_gpu=False, state="ERROR",
           checkpoint_dir=root + "/ckpt", show_progress=False)
config = Config(model="BPR", config_dict=cfg)
ds = create_dataset(config)
train, valid, test = data_preparation(config, ds)
print(ds.user_num - 1, ds.item_num - 1)  # RecBole adds a padding id 0
for part in (train.dataset, valid.dataset, test.dataset):
    u = ds.id2token(ds.uid_field, part.inter_feat[ds.uid_field].numpy()).astype(np.int64)
    i = ds.id2token(ds.iid_field, part.inter_feat[ds.iid_field].numpy()).astype(np.int64)
    key = np.sort(u * n_i + i)
    print(" ".join(map(str, key.tolist())))
"""


@pytest.mark.skipif(importlib.util.find_spec("recbole") is None, reason="RecBole not installed")
def test_recbole_reads_the_files_back(tmp_path: Path) -> None:
    g = _graph()
    write_interaction_splits(g, tmp_path)
    # a fresh process: RecBole's import patches numpy and scipy (see gcl.rec.recbole.compat)
    out = subprocess.run([sys.executable, "-c", _ROUND_TRIP, str(tmp_path), str(g.n_users),
                          str(g.n_items)], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()[-4:]
    users_seen = {s: g.pairs(s)[0].numpy() for s in ("train", "valid", "test")}
    items_seen = {s: g.pairs(s)[1].numpy() for s in ("train", "valid", "test")}
    n_u = np.unique(np.concatenate(list(users_seen.values()))).size
    n_i = np.unique(np.concatenate(list(items_seen.values()))).size
    assert lines[0] == f"{n_u} {n_i}"
    for line, split in zip(lines[1:], ("train", "valid", "test")):
        u, i = (t.numpy() for t in g.pairs(split))
        assert line.split() == [str(k) for k in np.sort(u * g.n_items + i)]
