"""Choosing the neighbour-sampling backend: PyG's ``NeighborLoader`` or the native sampler.

PyG's ``NeighborLoader`` samples with a compiled extension, ``pyg-lib`` or ``torch-sparse``;
without one it can be built but fails on the first batch. :func:`neighbor_loader` returns a
``NeighborLoader`` when one of them is importable (``backend="auto"`` or ``"pyg"``) and a
:class:`gcl.data.sampling.subgraph_loader.SubgraphLoader` otherwise (``"auto"`` or
``"native"``). Both yield the same kind of batch: seeds first, ``batch_size``, ``n_id``,
``e_id``, ``input_id``, local ``edge_index``, sliced node and edge attributes, at most
``num_neighbors[k]`` sampled in-neighbours per node of hop ``k``, drawn without replacement.

Randomness: the native loader draws the shuffling and the sampling from ``generator``, so a
restored generator state replays the same batches. ``NeighborLoader`` shuffles with
``generator`` (a ``DataLoader`` argument) but its compiled sampler keeps its own random state,
which a checkpoint of ``generator`` does not capture.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor
from torch_geometric.data import Data

from gcl.data.sampling.subgraph_loader import SubgraphLoader

BACKENDS = ("auto", "pyg", "native")


def install_hint() -> str:
    """The pip commands that give ``NeighborLoader`` a backend (pyg-lib wheels live on PyG's
    own index, not on PyPI; torch-sparse builds from source)."""
    return (f"pip install pyg-lib -f https://data.pyg.org/whl/torch-{torch.__version__}.html, "
            f"or pip install --no-build-isolation torch-sparse")


class SamplingBackendError(ImportError):
    """``backend="pyg"`` was asked for but neither ``pyg-lib`` nor ``torch-sparse`` imports."""


def pyg_sampling_available() -> bool:
    """Whether PyG's ``NeighborLoader`` can sample here (``pyg-lib`` or ``torch-sparse`` imports)."""
    import torch_geometric.typing as pyg_typing

    return bool(pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE)


def resolve_backend(backend: str) -> str:
    """``"pyg"`` or ``"native"`` for a requested ``backend`` (see the module docstring).

    Raises:
        ValueError: ``backend`` is not one of :data:`BACKENDS`.
        SamplingBackendError: ``"pyg"`` without ``pyg-lib`` or ``torch-sparse``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    available = pyg_sampling_available()
    if backend == "pyg" and not available:
        raise SamplingBackendError(
            f"backend='pyg' needs the package 'pyg-lib' or 'torch-sparse' for torch_geometric's "
            f"NeighborLoader, and neither is importable; install one ({install_hint()}) or use "
            f"backend='native'")
    if backend == "auto":
        return "pyg" if available else "native"
    return backend


def neighbor_loader(data: Data, num_neighbors: list[int] | tuple[int, ...], *, batch_size: int = 1,
                    shuffle: bool = False, input_nodes: Tensor | None = None, drop_last: bool = False,
                    generator: torch.Generator | None = None, backend: str = "auto",
                    **pyg_kwargs: Any) -> Iterable[Data]:
    """A loader of sampled-subgraph batches on the chosen backend.

    Args:
        data: the graph.
        num_neighbors: fan-out per hop (``-1``: all neighbours).
        batch_size: seed nodes per batch.
        shuffle: a new random seed order every pass.
        input_nodes: seed nodes (``None``: all; an index tensor or a boolean mask).
        drop_last: skip a last, smaller batch.
        generator: randomness of the shuffling (both backends) and of the sampling (native).
        backend: ``"auto"`` (PyG when it can sample here, else native), ``"pyg"`` or ``"native"``.
        **pyg_kwargs: further ``NeighborLoader``/``DataLoader`` arguments (PyG backend only).

    Returns:
        a ``torch_geometric.loader.NeighborLoader`` or a :class:`SubgraphLoader`.

    Raises:
        SamplingBackendError: ``backend="pyg"`` and no PyG sampling extension is importable.
        ValueError: an unknown backend, or ``pyg_kwargs`` given to the native backend.
    """
    if resolve_backend(backend) == "native":
        if pyg_kwargs:
            raise ValueError(f"the native backend takes no extra NeighborLoader arguments, got "
                             f"{sorted(pyg_kwargs)}")
        return SubgraphLoader(data, num_neighbors, batch_size=batch_size, shuffle=shuffle,
                              input_nodes=input_nodes, drop_last=drop_last, generator=generator)
    from torch_geometric.loader import NeighborLoader

    return NeighborLoader(data, num_neighbors=list(num_neighbors), input_nodes=input_nodes,
                          batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                          generator=generator, **pyg_kwargs)
