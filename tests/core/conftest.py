"""Fixtures for the core tests: tiny tensors, so one intra-op thread is fastest."""
from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    """Run the core tests on one torch thread (restored afterwards): on tensors this small,
    spreading each op over threads costs more than it saves, badly so on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
