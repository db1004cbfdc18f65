"""RecBole 1.2.1 adapter (``pip install gcl[rec]``).

Lazy: importing this package imports neither RecBole nor the compatibility fixes; the names
below load their module on first use.

* :mod:`gcl.rec.recbole.compat`: :func:`import_recbole`, :func:`patch_environment` and the
  named fixes that make RecBole 1.2.1 run on numpy 2, scipy >= 1.13 and torch >= 2.6
  (see ``docs/recbole.md``).
* :mod:`gcl.rec.recbole.atomic`: :func:`write_interaction_splits` and friends, RecBole
  atomic files from an :class:`~gcl.data.InteractionGraph` (no RecBole needed).
* :mod:`gcl.rec.recbole.sequences`: :func:`write_sequence_inter`, a one-line-per-user
  sequence file as a RecBole ``.inter`` file with positions as timestamps (no RecBole needed).
* :mod:`gcl.rec.recbole.mclrec`: gcl's SASRec / CL4SRec / MCLRec as RecBole sequential models
  with their own trainer, and :func:`run_recbole` (imports RecBole).
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "import_recbole": "compat",
    "patch_environment": "compat",
    "load_recbole_checkpoint": "compat",
    "evaluate_best": "compat",
    "write_interaction_splits": "atomic",
    "write_atomic_file": "atomic",
    "recbole_split_config": "atomic",
    "recbole_workdir": "compat",
    "write_sequence_inter": "sequences",
    "sequence_data_config": "sequences",
    "run_recbole": "mclrec",
    "prepare_recbole": "mclrec",
    "to_native": "mclrec",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))


__all__ = sorted(_LAZY)
