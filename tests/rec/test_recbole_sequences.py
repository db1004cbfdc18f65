"""One-line-per-user files -> RecBole ``.inter`` (no RecBole needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gcl.data import DatasetError
from gcl.data.sequences import load_sequences
from gcl.rec.recbole.sequences import (
    inter_path,
    sequence_columns,
    sequence_data_config,
    write_sequence_inter,
)

LINES = ["7 3 1 4 1", "2 10 9 8", "", "13 5 6 12 11 2 100"]


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "Shop.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(path: Path) -> tuple[str, list[list[int]]]:
    header, *body = path.read_text().splitlines()
    return header, [[int(x) for x in line.split("\t")] for line in body]


def test_inter_file_has_one_row_per_event_with_its_position(tmp_path: Path) -> None:
    out = write_sequence_inter(_file(tmp_path, LINES), tmp_path / "rb")
    assert out == inter_path(tmp_path / "rb", "Shop") == tmp_path / "rb" / "Shop" / "Shop.inter"
    header, rows = _rows(out)
    assert header == "user_id:token\titem_id:token\ttimestamp:float"
    expected = [[int(tok[0]), int(item), pos] for line in LINES if line
                for tok in [line.split()] for pos, item in enumerate(tok[1:])]
    assert rows == expected  # file order, repeated items kept, position from 0 per user


def test_dataset_input_and_columns_agree_with_the_file(tmp_path: Path) -> None:
    data = load_sequences(_file(tmp_path, LINES), name="shop")
    users, items, pos = sequence_columns(data)
    assert users.tolist() == [7] * 4 + [2] * 3 + [13] * 6
    assert pos.tolist() == [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 5]
    assert np.array_equal(items, data.items.numpy())
    out = write_sequence_inter(data, tmp_path / "rb")        # name from the dataset
    assert out.parent.name == "shop" and len(_rows(out)[1]) == data.n_actions
    cfg = sequence_data_config(tmp_path / "rb", "shop")
    assert cfg["load_col"] == {"inter": ["user_id", "item_id", "timestamp"]}
    assert cfg["TIME_FIELD"] == "timestamp" and cfg["dataset"] == "shop"


@pytest.mark.parametrize("bad, line, match", [
    ("4 1 2 x3", 3, "not an integer"),
    ("4", 3, "has 0 item"),                      # empty sequence
    ("4 1 0 2", 3, "1-based"),
    ("7 1 2 3", 3, "appears again"),
])
def test_bad_line_is_named_and_nothing_is_written(tmp_path: Path, bad: str, line: int, match: str) -> None:
    path = _file(tmp_path, ["7 3 1 4", "2 10 9 8", bad])
    with pytest.raises(DatasetError, match=match) as err:
        write_sequence_inter(path, tmp_path / "rb")
    assert err.value.line == line and f"line {line}" in str(err.value)
    assert not (tmp_path / "rb").exists()


def test_short_users_can_be_skipped_and_names_are_checked(tmp_path: Path) -> None:
    path = _file(tmp_path, ["7 3 1 4", "2 10", "5 1 2 3"])
    out = write_sequence_inter(path, tmp_path / "rb", "s", skip_short=True)
    assert [r[0] for r in _rows(out)[1]] == [7, 7, 7, 5, 5, 5]
    with pytest.raises(ValueError, match="plain file name"):
        write_sequence_inter(path, tmp_path / "rb", "a/b", skip_short=True)
