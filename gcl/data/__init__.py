"""Dataset loaders and the dataset registry.

``gcl.data.load(name, root=None, **kwargs)`` reads a dataset in its upstream layout from the
first data root that holds it (see :mod:`gcl.data.paths`); ``gcl.data.available()`` lists
what is known and where it is. Every loader raises :class:`DatasetError` naming the file and
the problem on bad input, and writes processed caches atomically.
"""
from gcl.data.errors import (
    DatasetError,
    MissingDatasetError,
    OptionalDependencyError,
    UnknownDatasetError,
)
from gcl.data.paths import BUNDLED_ROOT, cache_root, data_roots
from gcl.data.registry import Family, available, find, known_names, load, locate, register_family

# Importing a layout module registers its family.
from gcl.data import planetoid, amazon, ogb, hetero, interactions, sequences, smiles  # noqa: E402,F401
from gcl.data.interactions import InteractionGraph  # noqa: E402
from gcl.data.sequences import SequenceDataset  # noqa: E402

__all__ = [
    "BUNDLED_ROOT",
    "DatasetError",
    "Family",
    "InteractionGraph",
    "MissingDatasetError",
    "OptionalDependencyError",
    "SequenceDataset",
    "UnknownDatasetError",
    "available",
    "cache_root",
    "data_roots",
    "find",
    "known_names",
    "load",
    "locate",
    "register_family",
]
