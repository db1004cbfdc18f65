"""Capture and restore every random number generator state a run depends on.

A resumed run continues exactly where the checkpoint was taken only if Python's ``random``,
NumPy's global generator, torch's CPU and CUDA generators and any explicit
``torch.Generator`` the method owns are all restored.
"""
from __future__ import annotations

import random
from typing import Any, Mapping

import numpy as np
import torch


def capture_rng_state(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """All global RNG states plus the states of the named explicit generators."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np.asarray(np_state[1]).copy()),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    return state


def restore_rng_state(
    state: Mapping[str, Any], generators: Mapping[str, torch.Generator] | None = None
) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(_as_python_state(state["python"]))
    np_s = state["numpy"]
    np.random.set_state(
        (np_s["name"], np_s["keys"].numpy(), np_s["pos"], np_s["has_gauss"], np_s["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state.get("generators", {})
    for name, gen in (generators or {}).items():
        if name not in saved:
            raise KeyError(f"checkpoint has no state for generator {name!r}")
        gen.set_state(saved[name])


def _as_python_state(obj: Any) -> tuple:
    # random.getstate() is (version, tuple_of_ints, gauss_next); lists after a round trip.
    version, internal, gauss = obj
    return (version, tuple(internal), gauss)
