"""Leave-one-out split of a hand-made sequence file, and a line without items."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gcl.data import DatasetError
from gcl.data.sequences import load_sequences


def test_leave_one_out_by_hand(tmp_path: Path) -> None:
    f = tmp_path / "Shop.txt"
    f.write_text("7 5 3 9 2 6\n8 4 1 7\n")
    ds = load_sequences(f, max_len=3)
    users, ends = ds.train_examples()
    # user 7 (n = 5): prefixes predicting positions 1 and 2 (3 is valid, 4 test); user 8 (n = 3): none
    assert list(zip(users.tolist(), ends.tolist())) == [(0, 1), (0, 2)]
    train = ds.batch(users, ends)
    assert train.inputs.tolist() == [[0, 0, 5], [0, 5, 3]]
    assert train.targets.tolist() == [3, 9]
    valid, test = ds.valid_batch(), ds.test_batch()
    assert valid.targets.tolist() == [2, 1] and test.targets.tolist() == [6, 7]
    assert valid.inputs.tolist() == [[5, 3, 9], [0, 0, 4]]
    assert test.inputs.tolist() == [[3, 9, 2], [0, 4, 1]]      # cut to the last max_len = 3
    assert torch.equal(ds.user_ids, torch.tensor([7, 8]))


def test_line_without_items_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "Shop.txt"
    f.write_text("1 1 2 3\n\n7\n")
    with pytest.raises(DatasetError, match=r"Shop\.txt, line 3: user 7 has 0 item\(s\)") as err:
        load_sequences(f)
    assert err.value.line == 3
