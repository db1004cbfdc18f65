"""Shared fixtures: a private processed-cache root and the locations of the real data."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "datasets"


def _shared_root() -> Path | None:
    env = os.environ.get("GCL_DATA")
    for cand in ([Path(p) for p in env.split(os.pathsep) if p] if env else []) + [
        REPO.parent / "shared" / "datasets"
    ]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    """One intra-op torch thread per test module (restored afterwards): the tensors in the
    tests are tiny, so spreading each op over threads costs more than it saves, badly so on
    a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session processes datasets into its own cache, never the user's."""
    os.environ["GCL_CACHE"] = str(tmp_path_factory.mktemp("gcl-cache"))


@pytest.fixture(scope="session")
def bundled_root() -> Path:
    """The repository's bundled ``datasets/`` folder (always present)."""
    return BUNDLED


@pytest.fixture(scope="session")
def shared_root() -> Path:
    """The full shared data root (``GCL_DATA`` or ``../shared/datasets``).

    CI always has it (``.ci/run`` sets ``GCL_REQUIRE_SHARED=1``, which turns its absence into
    a failure); a developer without it gets a skip that says what to set.
    """
    root = _shared_root()
    if root is None:
        message = "shared datasets not found: set GCL_DATA to the shared datasets folder"
        if os.environ.get("GCL_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return root
