"""gcl.utils.atomic: a failed write leaves the old state and no temporary files."""
from __future__ import annotations

from pathlib import Path

import pytest

from gcl.utils.atomic import atomic_directory, atomic_write


class Boom(Exception):
    pass


def test_atomic_write_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "result.json"  # the parent is created
    with atomic_write(target, "w") as fh:
        fh.write("first")
    assert target.read_text() == "first"
    with atomic_write(target) as fh:
        fh.write(b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_atomic_write_keeps_the_old_file_when_the_block_raises(
    tmp_path: Path, error: type[BaseException]
) -> None:
    target = tmp_path / "ckpt.pt"
    target.write_bytes(b"old contents")
    with pytest.raises(error):
        with atomic_write(target) as fh:
            fh.write(b"half of the new ")
            fh.flush()
            # the new contents exist only in a temporary file beside the target
            assert target.read_bytes() == b"old contents"
            assert len(list(tmp_path.iterdir())) == 2
            raise error()
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_atomic_write_creates_nothing_when_the_first_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "new.bin"
    with pytest.raises(Boom):
        with atomic_write(target):
            raise Boom()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_renames_on_success(tmp_path: Path) -> None:
    final = tmp_path / "cache" / "processed"
    with atomic_directory(final) as tmp:
        assert tmp.is_dir() and tmp.parent == final.parent and tmp != final
        (tmp / "a").mkdir()
        (tmp / "a" / "data.pt").write_text("x")
        assert not final.exists()
    assert (final / "a" / "data.pt").read_text() == "x"
    assert not tmp.exists()
    assert [p.name for p in final.parent.iterdir()] == ["processed"]


def test_atomic_directory_removes_the_temp_dir_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "processed"
    with pytest.raises(Boom):
        with atomic_directory(final) as tmp:
            (tmp / "partial.pt").write_text("half")
            raise Boom()
    assert not final.exists()
    assert not tmp.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_keeps_a_copy_made_meanwhile(tmp_path: Path) -> None:
    final = tmp_path / "processed"
    with atomic_directory(final) as tmp:
        (tmp / "mine.pt").write_text("mine")
        final.mkdir()  # another process finished first
        (final / "theirs.pt").write_text("theirs")
    assert [p.name for p in final.iterdir()] == ["theirs.pt"]
    assert not tmp.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["processed"]
