"""Helpers shared by the loaders that keep a processed cache of a dataset.

A loader that lets third-party code (PyG, OGB) process a dataset does so in a private cache
folder (:func:`gcl.data.paths.cache_dir_for`), never in the data root, which may be read-only:

* :func:`source_fingerprint` names the cache after the source files (their relative paths,
  sizes and modification times, plus any options that change the result), so replacing a
  source file gives a fresh cache instead of a stale one;
* :func:`link_or_copy` and :func:`mirror_files` put the source files where the third-party
  class expects them inside the cache (symbolic links; copies where links are unavailable);
* :func:`build_cache_dir` builds the folder inside :func:`gcl.utils.atomic.atomic_directory`,
  so an interrupted run never leaves a half-written cache behind;
* :func:`processing_errors` turns whatever the third-party processing raises into a
  :class:`gcl.data.errors.DatasetError` naming the source and the problem.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from gcl.data.errors import DatasetError
from gcl.utils.atomic import atomic_directory


def source_fingerprint(
    source: str | os.PathLike,
    files: Iterable[str | os.PathLike] | None = None,
    *,
    extra: Sequence[object] = (),
    length: int = 10,
) -> str:
    """A short hex digest of source files' relative paths, sizes and modification times.

    The files are taken in sorted order of their relative paths, so the digest does not
    depend on the order they are listed in. Symbolic links are followed (a link's target is
    what is fingerprinted).

    Args:
        source: a single file (when ``files`` is ``None``; it is labelled by its name), or
            the folder the ``files`` are relative to.
        files: paths relative to ``source``; ``None`` fingerprints ``source`` itself.
        extra: further key parts (JSON-serialisable, e.g. a cache format version or the
            options the cached result depends on), mixed into the digest.
        length: number of hex digits returned (at most 40).

    Returns:
        ``length`` lower-case hex digits of a SHA-1 over one line
        ``"<relative path>\\0<size>\\0<mtime_ns>\\n"`` per file, then the JSON of ``extra``
        (when given).

    Raises:
        FileNotFoundError: a listed file does not exist (callers check presence first, so
            that the user sees a :class:`gcl.data.errors.DatasetError` instead).
    """
    source = Path(source)
    if files is None:
        entries = [(source.name, source)]
    else:
        entries = [(Path(rel).as_posix(), source / rel) for rel in files]
    digest = hashlib.sha1()
    for label, file in sorted(entries, key=lambda entry: entry[0]):
        st = file.stat()
        digest.update(f"{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    if extra:
        digest.update(json.dumps(list(extra), sort_keys=True).encode())
    return digest.hexdigest()[:length]


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Make ``dst`` a symbolic link to ``src`` (resolved); copy it where links are unavailable.

    Args:
        src: an existing file.
        dst: the new path; its parent folder must exist and ``dst`` itself must not.
    """
    try:
        os.symlink(Path(src).resolve(), dst)
    except OSError:
        shutil.copy2(src, dst)


def mirror_files(
    source: str | os.PathLike, files: Iterable[str | os.PathLike], target: str | os.PathLike
) -> None:
    """Reproduce ``source/<rel>`` at ``target/<rel>`` for every ``rel`` in ``files``.

    Each file becomes a link (or copy, see :func:`link_or_copy`); sub-folders are created as
    needed, and ``target`` itself is created even when ``files`` is empty.

    Args:
        source: the folder the ``files`` are relative to.
        files: file paths relative to ``source``.
        target: the folder to fill (usually inside a temporary cache folder).
    """
    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for rel in files:
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(source / rel, dst)


def build_cache_dir(
    cache: str | os.PathLike, complete: str | os.PathLike, build: Callable[[Path], None]
) -> Path:
    """Return ``cache``, building it first unless ``cache/complete`` is already a file.

    ``build(tmp)`` fills a fresh temporary folder that is renamed to ``cache`` only when it
    returns; if it raises, the temporary folder is removed and the exception propagates. A
    ``cache`` folder without its ``complete`` file (left by an older layout) is removed first.

    Args:
        cache: the cache folder (from :func:`gcl.data.paths.cache_dir_for`).
        complete: a path relative to ``cache`` whose presence means the cache is complete
            (e.g. the processed file PyG writes last).
        build: writes the cache contents into the folder it is given.

    Returns:
        ``cache``, as a :class:`~pathlib.Path`.
    """
    cache = Path(cache)
    if not (cache / complete).is_file():
        shutil.rmtree(cache, ignore_errors=True)
        with atomic_directory(cache) as tmp:
            build(tmp)
    return cache


@contextlib.contextmanager
def processing_errors(source: str | os.PathLike, problem: str) -> Iterator[None]:
    """Re-raise any exception of the block as a :class:`DatasetError` about ``source``.

    For the calls into third-party processing (PyG's or OGB's dataset classes), whose own
    exceptions say little about which file is wrong. The original exception is chained.

    Args:
        source: the file or folder being processed (named in the message).
        problem: what went wrong, e.g. ``"PyG's Planetoid could not process the raw files"``;
            the message is ``"<problem> (<exception type>: <exception text>)"``.

    Raises:
        DatasetError: from any :class:`Exception` raised in the block.
    """
    try:
        yield
    except Exception as exc:
        raise DatasetError(source, f"{problem} ({type(exc).__name__}: {exc})") from exc
