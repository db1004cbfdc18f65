"""gcl.data.cache: fingerprints, mirrors, atomic cache folders, processing errors."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gcl.data.cache import (
    build_cache_dir,
    link_or_copy,
    mirror_files,
    processing_errors,
    source_fingerprint,
)
from gcl.data.errors import DatasetError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "raw").mkdir(parents=True)
    (src / "raw" / "a.csv").write_text("1,2\n")
    (src / "raw" / "b.csv").write_text("3,4\n")
    (src / "split").mkdir()
    (src / "split" / "train.csv").write_text("0\n")
    return src


FILES = ["raw/a.csv", "raw/b.csv", "split/train.csv"]


def test_fingerprint_is_the_documented_digest(folder: Path) -> None:
    lines = ""
    for rel in FILES:
        st = (folder / rel).stat()
        lines += f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n"
    expected = hashlib.sha1(lines.encode()).hexdigest()
    assert source_fingerprint(folder, FILES) == expected[:10]
    assert source_fingerprint(folder, reversed(FILES), length=40) == expected
    single = folder / "raw" / "a.csv"
    st = single.stat()
    assert source_fingerprint(single) == hashlib.sha1(
        f"a.csv\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
    ).hexdigest()[:10]


def test_fingerprint_changes_with_the_files_and_the_key(folder: Path) -> None:
    base = source_fingerprint(folder, FILES)
    assert source_fingerprint(folder, FILES[:2]) != base
    assert source_fingerprint(folder, FILES, extra=[1, "smiles"]) != base
    assert source_fingerprint(folder, FILES, extra=[2, "smiles"]) != source_fingerprint(
        folder, FILES, extra=[1, "smiles"]
    )
    f = folder / "raw" / "b.csv"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touched
    assert source_fingerprint(folder, FILES) != base
    touched = source_fingerprint(folder, FILES)
    f.write_text("3,5\n")  # same size, new contents and time
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert source_fingerprint(folder, FILES) == touched  # by design: size and time only
    with pytest.raises(FileNotFoundError):
        source_fingerprint(folder, ["raw/missing.csv"])


def test_mirror_files_links_every_file(folder: Path, tmp_path: Path) -> None:
    target = tmp_path / "mirror"
    mirror_files(folder, FILES, target)
    for rel in FILES:
        assert (target / rel).is_symlink()
        assert (target / rel).resolve() == (folder / rel).resolve()
        assert (target / rel).read_text() == (folder / rel).read_text()
    empty = tmp_path / "empty"
    mirror_files(folder, [], empty)
    assert empty.is_dir() and list(empty.iterdir()) == []


def test_link_or_copy_copies_when_links_fail(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object) -> None:
        raise OSError("symlinks not supported")

    monkeypatch.setattr(os, "symlink", no_links)
    dst = tmp_path / "copy.csv"
    link_or_copy(folder / "raw" / "a.csv", dst)
    assert not dst.is_symlink() and dst.read_text() == "1,2\n"


def test_build_cache_dir_builds_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "ds-123"
    calls: list[Path] = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "processed").mkdir()
        (tmp / "processed" / "data.pt").write_text("done")

    assert build_cache_dir(cache, "processed/data.pt", build) == cache
    assert (cache / "processed" / "data.pt").read_text() == "done"
    assert len(calls) == 1 and calls[0] != cache
    assert build_cache_dir(cache, Path("processed") / "data.pt", build) == cache
    assert len(calls) == 1  # complete: not rebuilt


def test_build_cache_dir_replaces_an_incomplete_cache_and_cleans_up_on_failure(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "ds"
    (cache / "raw").mkdir(parents=True)  # incomplete: no processed file
    (cache / "raw" / "stale").write_text("old")

    def failing(tmp: Path) -> None:
        (tmp / "half.pt").write_text("half")
        raise RuntimeError("processing failed")

    with pytest.raises(RuntimeError, match="processing failed"):
        build_cache_dir(cache, "processed/data.pt", failing)
    assert list(tmp_path.iterdir()) == []  # neither the stale cache nor a temporary folder


def test_processing_errors_names_the_source_and_chains(tmp_path: Path) -> None:
    src = tmp_path / "photo.zip"
    with pytest.raises(DatasetError, match=r"photo\.zip.*could not process \(KeyError: 'x'\)") as info:
        with processing_errors(src, "could not process"):
            raise KeyError("x")
    assert isinstance(info.value.__cause__, KeyError)
    with processing_errors(src, "unused"):
        pass
