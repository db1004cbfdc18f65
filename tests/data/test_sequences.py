"""Tests of gcl.data.sequences: leave-one-out split, padded batches, bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import gcl.data
from gcl.data import DatasetError, SequenceDataset
from gcl.data.sequences import PAD, SeqBatch, load_sequences


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _reference_sequences(path: Path) -> list[list[int]]:
    """Plain-Python reading of a sequence file: the reference."""
    return [[int(t) for t in line.split()[1:]] for line in path.read_text().splitlines() if line.strip()]


def _pad_left(seq: list[int], max_len: int) -> list[int]:
    seq = seq[-max_len:] if max_len else []
    return [0] * (max_len - len(seq)) + seq


@pytest.fixture(scope="module")
def beauty(bundled_root: Path) -> SequenceDataset:
    return gcl.data.load("beauty", root=bundled_root)


# ---------------------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------------------


def test_beauty_counts(beauty: SequenceDataset) -> None:
    assert (beauty.n_users, beauty.n_items, beauty.n_actions) == (22_363, 12_101, 198_502)
    assert beauty.n_train_examples == 131_413
    users, ends = beauty.train_examples()
    assert users.shape == ends.shape == (131_413,)
    assert len(beauty.train_loader(256)) == 514
    assert beauty.items.dtype == torch.int64 and int(beauty.items.min()) == 1
    assert beauty.offsets.shape == (22_364,) and int(beauty.offsets[-1]) == 198_502
    assert beauty.user_ids[:3].tolist() == [1, 2, 3] and beauty.max_len == 50
    assert "users=22,363" in repr(beauty) and "train prefixes=131,413" in repr(beauty)


def test_toys_counts(shared_root: Path) -> None:
    toys = gcl.data.load("toys", root=shared_root)
    assert (toys.n_users, toys.n_items, toys.n_actions) == (19_412, 11_924, 167_597)
    assert toys.n_train_examples == 109_361
    assert len(toys.train_loader(256)) == 428
    assert int(toys.lengths.max()) == 550


def test_beauty_sequences_match_text(beauty: SequenceDataset, bundled_root: Path) -> None:
    ref = _reference_sequences(bundled_root / "seqrec" / "Beauty.txt")
    assert beauty.sequence(0).tolist() == [1, 2, 3, 4, 5] == ref[0]
    assert beauty.sequence(1).tolist() == [6, 7, 8, 9, 10, 4, 11]
    for u in (5, 1000, 22_362):
        assert beauty.sequence(u).tolist() == ref[u]


def test_padded_batches_equal_python_reference(beauty: SequenceDataset, bundled_root: Path) -> None:
    ref = _reference_sequences(bundled_root / "seqrec" / "Beauty.txt")
    users, ends = beauty.train_examples()
    pick = torch.randperm(users.numel(), generator=torch.Generator().manual_seed(0))[:300]
    long_user = int(torch.argmax(beauty.lengths))  # 204 items: exercises truncation
    lu = torch.full((5,), long_user)
    le = torch.tensor([1, 49, 50, 51, 201])
    u = torch.cat([users[pick], lu])
    e = torch.cat([ends[pick], le])
    for max_len in (50, 5):
        b = beauty.batch(u, e, max_len, shifted=True)
        assert b.inputs.shape == (u.numel(), max_len)
        for k in range(u.numel()):
            seq, end = ref[int(u[k])], int(e[k])
            assert b.inputs[k].tolist() == _pad_left(seq[:end], max_len)
            assert int(b.targets[k]) == seq[end]
            nxt = _pad_left(seq[1 : end + 1], max_len)
            n_real = min(end, max_len)
            expect = [0] * (max_len - n_real) + nxt[max_len - n_real :]
            assert b.shifted[k].tolist() == expect
        assert torch.equal(b.shifted[:, -1], b.targets)


def test_every_training_prefix_is_listed(beauty: SequenceDataset) -> None:
    users, ends = beauty.train_examples()
    # user 1 has 7 items: targets at positions 1..4 (t = 2..n-2)
    assert ends[users == 1].tolist() == [1, 2, 3, 4]
    assert torch.equal(torch.bincount(users, minlength=beauty.n_users), beauty.lengths - 3)
    assert int(ends.min()) == 1 and torch.all(ends <= beauty.lengths[users] - 3)


def test_no_target_inside_its_input(beauty: SequenceDataset) -> None:
    users, ends = beauty.train_examples()
    b = beauty.batch(users, ends)
    assert not (b.inputs == b.targets[:, None]).any()
    for eb in (beauty.valid_batch(), beauty.test_batch()):
        assert not (eb.inputs == eb.targets[:, None]).any()
        indptr, hist = beauty.history(eb.users, eb.ends)
        rows = torch.repeat_interleave(torch.arange(eb.users.numel()), indptr[1:] - indptr[:-1])
        assert not (hist == eb.targets[rows]).any()


def test_valid_and_test_batches(beauty: SequenceDataset, bundled_root: Path) -> None:
    ref = _reference_sequences(bundled_root / "seqrec" / "Beauty.txt")
    users = torch.tensor([0, 1, 22_362])
    v, t = beauty.valid_batch(users), beauty.test_batch(users)
    for k, u in enumerate(users.tolist()):
        seq = ref[u]
        assert int(t.targets[k]) == seq[-1] and int(v.targets[k]) == seq[-2]
        assert t.inputs[k].tolist() == _pad_left(seq[:-1], 50)
        assert v.inputs[k].tolist() == _pad_left(seq[:-2], 50)
    assert torch.equal(t.inputs[:, -1], v.targets)  # the test input ends with the valid target
    assert v.shifted is None
    full = beauty.test_batch()
    assert full.users.shape == (22_363,) and full.inputs.shape == (22_363, 50)


def test_history_csr(beauty: SequenceDataset) -> None:
    users = torch.tensor([1, 0, 7])
    indptr, items = beauty.history(users)
    assert indptr.tolist() == [0, 6, 10, 14]  # lengths 7, 5, 5
    assert items[:6].tolist() == beauty.sequence(1)[:-1].tolist()
    assert items[6:10].tolist() == [1, 2, 3, 4]
    assert items[10:].tolist() == [56, 57, 58, 4]
    indptr, items = beauty.history(users, beauty.valid_ends(users))
    assert indptr.tolist() == [0, 5, 8, 11]
    assert items[5:8].tolist() == [1, 2, 3]


def test_train_loader(beauty: SequenceDataset) -> None:
    small = beauty.select(torch.arange(300))
    assert small.n_users == 300 and small.n_items == beauty.n_items
    loader = small.train_loader(64, generator=torch.Generator().manual_seed(1))
    batches = list(loader)
    assert len(batches) == len(loader) == -(-small.n_train_examples // 64)
    assert all(isinstance(b, SeqBatch) and b.shifted is not None for b in batches)
    seen = torch.cat([b.users * 1000 + b.ends for b in batches])
    users, ends = small.train_examples()
    assert torch.equal(seen.sort().values, (users * 1000 + ends).sort().values)  # each once
    again = list(small.train_loader(64, generator=torch.Generator().manual_seed(1)))
    assert all(torch.equal(a.inputs, b.inputs) for a, b in zip(batches, again))
    other = next(iter(small.train_loader(64, generator=torch.Generator().manual_seed(2))))
    assert not torch.equal(other.users, batches[0].users)
    ordered = next(iter(small.train_loader(64, shuffle=False)))
    assert torch.equal(ordered.users, users[:64])
    assert len(small.train_loader(64, drop_last=True)) == small.n_train_examples // 64


def test_select_and_to(beauty: SequenceDataset) -> None:
    sub = beauty.select([5, 0])
    assert sub.sequence(0).tolist() == beauty.sequence(5).tolist()
    assert sub.sequence(1).tolist() == [1, 2, 3, 4, 5]
    assert sub.user_ids.tolist() == [6, 1]
    assert sub.to("cpu").n_actions == sub.n_actions
    if torch.cuda.is_available():
        cuda = sub.to("cuda")
        b = cuda.test_batch()
        assert b.inputs.is_cuda
        assert torch.equal(b.inputs.cpu(), sub.test_batch().inputs)


def test_discover_and_load_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "seqrec" / "My_Shop.txt", "10 1 2 3 4\n11 4 3 2\n")
    _write(tmp_path / "seqrec" / "README.txt", "notes\n")
    names = gcl.data.known_names(tmp_path)
    assert "my-shop" in names and "readme" not in names
    monkeypatch.setenv("GCL_DATA", str(tmp_path))
    ds = gcl.data.load("my_shop", max_len=3)
    assert (ds.n_users, ds.n_items, ds.n_actions, ds.n_train_examples) == (2, 4, 7, 1)
    assert ds.max_len == 3 and ds.name == "my-shop"
    assert ds.test_batch().inputs.tolist() == [[1, 2, 3], [0, 4, 3]]


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------


def test_non_integer_token(tmp_path: Path) -> None:
    f = _write(tmp_path / "Shop.txt", "1 1 2 3\n2 4 five 6\n")
    with pytest.raises(DatasetError, match=r"Shop\.txt, line 2: not an integer: 'five'") as err:
        load_sequences(f)
    assert err.value.line == 2


def test_item_id_zero_or_negative(tmp_path: Path) -> None:
    f = _write(tmp_path / "Shop.txt", "1 1 2 3\n\n2 4 0 6\n")
    with pytest.raises(DatasetError, match=r"Shop\.txt, line 3: item id 0: item ids are 1-based"):
        load_sequences(f)
    f = _write(tmp_path / "Shop.txt", "1 1 2 -3\n")
    with pytest.raises(DatasetError, match=r"Shop\.txt, line 1: item id -3: item ids are 1-based"):
        load_sequences(f)


def test_short_user(tmp_path: Path) -> None:
    f = _write(tmp_path / "Shop.txt", "1 1 2 3\n2 4 5\n3 1 2 3 4\n4\n")
    with pytest.raises(DatasetError, match=r"Shop\.txt, line 2: user 2 has 2 item\(s\); .*at least 3"):
        load_sequences(f)
    ds = load_sequences(f, skip_short=True)
    assert ds.n_users == 2 and ds.n_skipped == 2 and ds.user_ids.tolist() == [1, 3]
    assert ds.sequence(1).tolist() == [1, 2, 3, 4] and ds.n_items == 4
    only_short = _write(tmp_path / "Short.txt", "1 1\n2 3 4\n")
    with pytest.raises(DatasetError, match=r"Short\.txt: no user with at least 3 items"):
        load_sequences(only_short, skip_short=True)


def test_duplicate_user(tmp_path: Path) -> None:
    f = _write(tmp_path / "Shop.txt", "1 1 2 3\n2 4 5 6\n3 1 2 3\n2 7 8 9\n")
    with pytest.raises(DatasetError, match=r"Shop\.txt, line 4: user id 2 appears again \(first on line 2\)"):
        load_sequences(f)


def test_empty_and_missing_file(tmp_path: Path) -> None:
    f = _write(tmp_path / "Shop.txt", "")
    with pytest.raises(DatasetError, match=r"Shop\.txt: empty file"):
        load_sequences(f)
    f = _write(tmp_path / "Blank.txt", "\n  \n")
    with pytest.raises(DatasetError, match=r"Blank\.txt: empty file"):
        load_sequences(f)
    with pytest.raises(DatasetError, match=r"Gone\.txt: file not found"):
        load_sequences(tmp_path / "Gone.txt")


def test_windows_line_endings(tmp_path: Path) -> None:
    f = tmp_path / "Win.txt"
    f.write_bytes(b"1 1 2 3\r\n2 4 5 6 7\r\n")
    ds = load_sequences(f)
    assert ds.n_actions == 7 and ds.sequence(1).tolist() == [4, 5, 6, 7]
    assert int(ds.offsets[1]) == 3 and ds.items.dtype == torch.int64
    assert np.array_equal(ds.lengths.numpy(), [3, 4])
    assert PAD == 0
