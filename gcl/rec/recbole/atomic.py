"""RecBole atomic files written from gcl data, vectorized and atomically.

RecBole reads a dataset ``<name>`` from ``<data_path>/<name>/`` as tab-separated *atomic
files*: a header line of ``field:type`` names, then one record per line. With the config
``benchmark_filename: [train, valid, test]`` RecBole takes a ready-made split from
``<name>.train.inter``, ``<name>.valid.inter`` and ``<name>.test.inter`` instead of
splitting itself, so the same interactions reach RecBole and gcl.

This module writes

* :func:`write_interaction_splits`: the three split files of an
  :class:`~gcl.data.InteractionGraph`, header ``user_id:token<TAB>item_id:token``, ids
  written as the graph's 0-based integers (RecBole treats them as tokens and remaps them
  to its own internal ids, with 0 reserved for padding);
* :func:`write_atomic_file`: any table of non-negative integer columns (the building block;
  a sequence writer with ``token_seq`` columns belongs beside it);
* :func:`recbole_split_config`: the RecBole config entries that read those files back.

Formatting is vectorized: every integer column becomes a byte matrix of its decimal digits
in one pass of NumPy arithmetic (a loop over digit positions, never over rows), the columns
and separators are laid side by side, and the padding bytes are dropped with one boolean
mask. Each file is written to a temporary file and renamed into place
(:func:`gcl.utils.atomic.atomic_write`), so a reader never sees half a file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from gcl.data.interactions import SPLITS, InteractionGraph
from gcl.utils.atomic import atomic_write

USER_FIELD = "user_id"
ITEM_FIELD = "item_id"
FIELD_SEPARATOR = "\t"

_MAX_DIGITS = 19  # int64


def _as_int_array(column: Any, name: str) -> np.ndarray:
    if isinstance(column, torch.Tensor):
        column = column.detach().cpu().numpy()
    arr = np.asarray(column)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"column {name!r} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"column {name!r} holds a negative value ({int(arr.min())}); "
                         "atomic token ids must be non-negative")
    return arr


def _digit_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal digits of non-negative int64 values, right-aligned.

    Args:
        values: ``[n]`` int64, all ``>= 0``.

    Returns:
        ``(digits [n, w] uint8 ASCII, keep [n, w] bool)`` with ``w`` the widest value's digit
        count; ``keep`` is False on the left padding of shorter values.
    """
    n_digits = np.ones(values.shape[0], dtype=np.int64)
    for p in range(1, _MAX_DIGITS):
        n_digits += values >= 10 ** p
    width = int(n_digits.max()) if values.size else 1
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)          # [w], most significant first
    digits = (values[:, None] // powers[None, :]) % 10 + ord("0")
    keep = np.arange(width)[None, :] >= (width - n_digits)[:, None]
    return digits.astype(np.uint8), keep


def format_int_table(columns: Sequence[np.ndarray], sep: str = FIELD_SEPARATOR) -> bytes:
    """Rows of integer columns as text: ``c0 sep c1 sep ... \\n`` per row, all at once.

    Args:
        columns: equal-length ``[n]`` non-negative integer arrays.
        sep: a one-character field separator.

    Returns:
        The ASCII bytes of the ``n`` lines (empty for ``n = 0``).
    """
    if len(sep) != 1:
        raise ValueError(f"sep must be one character, got {sep!r}")
    n = columns[0].shape[0] if columns else 0
    if n == 0:
        return b""
    blocks: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for j, col in enumerate(columns):
        digits, keep = _digit_matrix(col)
        blocks.append(digits)
        masks.append(keep)
        end = ord(sep) if j + 1 < len(columns) else ord("\n")
        blocks.append(np.full((n, 1), end, dtype=np.uint8))
        masks.append(np.ones((n, 1), dtype=bool))
    table = np.concatenate(blocks, axis=1)
    return table[np.concatenate(masks, axis=1)].tobytes()


def write_atomic_file(
    path: str | os.PathLike,
    fields: Sequence[tuple[str, str]],
    columns: Sequence[Any],
) -> Path:
    """Write one RecBole atomic file of integer columns, atomically.

    Args:
        path: destination (``.../<name>.<suffix>``); parent folders are created.
        fields: ``(name, type)`` per column, e.g. ``("user_id", "token")``; types
            ``token`` or ``float`` (integers written as such; RecBole reads them as floats).
        columns: one ``[n]`` non-negative integer array (NumPy or torch) per field.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: column count or lengths disagree, a column is not 1-D integer, holds a
            negative value, or a field name/type is empty or holds a separator.
    """
    if len(fields) != len(columns) or not fields:
        raise ValueError(f"{len(fields)} fields but {len(columns)} columns (need >= 1 of each)")
    for name, typ in fields:
        if not name or not typ or any(c in name + typ for c in (FIELD_SEPARATOR, ":", "\n")):
            raise ValueError(f"bad field {name!r}:{typ!r}")
        if typ not in ("token", "float"):
            raise ValueError(f"field {name!r}: integer columns are written as 'token' or "
                             f"'float', not {typ!r}")
    arrays = [_as_int_array(c, name) for (name, _), c in zip(fields, columns)]
    lengths = {a.shape[0] for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    header = FIELD_SEPARATOR.join(f"{name}:{typ}" for name, typ in fields) + "\n"
    body = format_int_table(arrays)
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(body)
    return path


def split_paths(root: str | os.PathLike, name: str) -> dict[str, Path]:
    """Where the split files of dataset ``name`` live under a RecBole ``data_path``."""
    folder = Path(root) / name
    return {split: folder / f"{name}.{split}.inter" for split in SPLITS}


def write_interaction_splits(
    graph: InteractionGraph, root: str | os.PathLike, name: str | None = None
) -> dict[str, Path]:
    """Write a graph's train / valid / test interactions as RecBole benchmark split files.

    Files: ``<root>/<name>/<name>.{train,valid,test}.inter``, each with header
    ``user_id:token<TAB>item_id:token`` and one ``user<TAB>item`` line per interaction
    (sorted by user, then item; an empty split gets the header only). Every file is written
    atomically; a failure leaves earlier files of the call complete and the failed one absent.

    Args:
        graph: the interactions.
        root: RecBole's ``data_path``.
        name: dataset name (default ``graph.name``); a valid folder/file name.

    Returns:
        ``{split: path}`` for the three files.
    """
    name = graph.name if name is None else name
    if not name or os.sep in name or name in (".", ".."):
        raise ValueError(f"name must be a plain file name, got {name!r}")
    out = {}
    for split, path in split_paths(root, name).items():
        users, items = graph.pairs(split)
        out[split] = write_atomic_file(
            path, [(USER_FIELD, "token"), (ITEM_FIELD, "token")], [users, items]
        )
    return out


def recbole_split_config(root: str | os.PathLike, name: str) -> dict[str, Any]:
    """RecBole config entries that read the files of :func:`write_interaction_splits`.

    No filtering, no re-splitting, no duplicate removal: RecBole sees exactly the graph's
    interactions. Merge into the model's config (``Config(config_dict=...)``).
    """
    return {
        "data_path": str(Path(root)),
        "dataset": name,
        "benchmark_filename": list(SPLITS),
        "field_separator": FIELD_SEPARATOR,
        "USER_ID_FIELD": USER_FIELD,
        "ITEM_ID_FIELD": ITEM_FIELD,
        "load_col": {"inter": [USER_FIELD, ITEM_FIELD]},
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "rm_dup_inter": None,
        "filter_inter_by_user_or_item": False,
    }


__all__ = [
    "FIELD_SEPARATOR",
    "ITEM_FIELD",
    "USER_FIELD",
    "format_int_table",
    "recbole_split_config",
    "split_paths",
    "write_atomic_file",
    "write_interaction_splits",
]
