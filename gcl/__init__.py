"""gcl: graph and recommender contrastive learning for PyTorch and PyTorch Geometric.

Sub-packages are imported on first use so that ``import gcl`` stays cheap:

- :mod:`gcl.data`     dataset loaders and the dataset registry
- :mod:`gcl.views`    view generators (augmentations)
- :mod:`gcl.nn`       encoders
- :mod:`gcl.losses`   contrastive losses
- :mod:`gcl.methods`  one module per method (encoder + views + losses + defaults)
- :mod:`gcl.eval`     evaluation protocols and metrics
- :mod:`gcl.train`    the training engine (progress, logging, checkpoints, resume)
- :mod:`gcl.cli`      the ``gcl`` command
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = ("data", "views", "nn", "losses", "methods", "eval", "train", "cli", "utils")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"gcl.{name}")
    raise AttributeError(f"module 'gcl' has no attribute {name!r}")
