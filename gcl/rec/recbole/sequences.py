"""One-line-per-user sequence files as a RecBole sequential dataset (no RecBole needed).

RecBole 1.2.x needs a time field to order a user's interactions for sequential models. The
one-line-per-user layout (``user_id item item ...``, chronological; :mod:`gcl.data.sequences`)
has no times, only an order, so every item gets its **0-based position in the user's line**
as timestamp:

    <root>/<name>/<name>.inter
    user_id:token   item_id:token   timestamp:float
    u               s_1             0
    u               s_2             1
    ...

RecBole sorts by time with a stable sort (``eval_args.order: TO``), so the positions give back
the file's order, and its leave-one-out split (``split: {LS: valid_and_test}``) then holds the
same examples as :class:`gcl.data.SequenceDataset`: test = last item, valid = second last,
train = every earlier prefix. User and item ids are written as in the file; RecBole treats them
as tokens and remaps them to its own ids (0 = padding, items in order of first appearance).

The file is parsed by :func:`gcl.data.sequences.load_sequences` (so a bad line, such as a
non-integer id, an item id < 1, a repeated user or a user with fewer than 3 items, raises a
:class:`gcl.data.DatasetError` naming the file and line, and nothing is written), and the
columns are built with NumPy (no loop over users) and written atomically with
:func:`gcl.rec.recbole.atomic.write_atomic_file`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from gcl.data.sequences import SequenceDataset, load_sequences
from gcl.rec.recbole.atomic import FIELD_SEPARATOR, ITEM_FIELD, USER_FIELD, write_atomic_file

TIME_FIELD = "timestamp"
#: ``(name, type)`` of the three columns of the ``.inter`` file
SEQUENCE_FIELDS: tuple[tuple[str, str], ...] = ((USER_FIELD, "token"), (ITEM_FIELD, "token"),
                                                (TIME_FIELD, "float"))


def sequence_columns(data: SequenceDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``.inter`` columns of a sequence dataset, one row per (user, item) event.

    Args:
        data: the sequences (any device).

    Returns:
        ``(users, items, positions)``, each ``[n_actions]`` int64: the file's user id of every
        event, its item id, and its 0-based position in the user's sequence; rows in file order.
    """
    lengths = data.lengths.cpu().numpy()
    starts = data.offsets[:-1].cpu().numpy()
    users = np.repeat(data.user_ids.cpu().numpy(), lengths)
    positions = np.arange(data.n_actions, dtype=np.int64) - np.repeat(starts, lengths)
    return users, data.items.cpu().numpy().astype(np.int64, copy=False), positions


def inter_path(root: str | os.PathLike, name: str) -> Path:
    """Where RecBole reads dataset ``name`` under its ``data_path`` ``root``."""
    return Path(root) / name / f"{name}.inter"


def write_sequence_inter(
    source: SequenceDataset | str | os.PathLike,
    root: str | os.PathLike,
    name: str | None = None,
    *,
    skip_short: bool = False,
) -> Path:
    """Write a one-line-per-user dataset as RecBole's ``<root>/<name>/<name>.inter``.

    Args:
        source: a :class:`gcl.data.SequenceDataset`, or the path of a one-line-per-user file
            (read with :func:`gcl.data.sequences.load_sequences`).
        root: RecBole's ``data_path``.
        name: dataset name (default: the dataset's name, or the file's stem).
        skip_short: drop users with fewer than 3 items instead of raising (file input only).

    Returns:
        The path of the ``.inter`` file (header ``user_id:token  item_id:token
        timestamp:float``, tab-separated; timestamp = position in the line, from 0).

    Raises:
        gcl.data.DatasetError: a bad line in the file (named with its line number); nothing is
            written.
        ValueError: ``name`` is not a plain file name.
    """
    data = source if isinstance(source, SequenceDataset) else load_sequences(source, skip_short=skip_short)
    name = (data.name or "") if name is None else name
    if not name or os.sep in name or name in (".", ".."):
        raise ValueError(f"name must be a plain file name, got {name!r}")
    return write_atomic_file(inter_path(root, name), SEQUENCE_FIELDS, sequence_columns(data))


def sequence_data_config(root: str | os.PathLike, name: str) -> dict[str, Any]:
    """RecBole config entries that read the file of :func:`write_sequence_inter` as it is.

    No filtering, no duplicate removal; the time field orders each user's items. Merge into
    the model's config (``Config(config_dict=...)``); the split and evaluation settings are in
    :data:`gcl.rec.recbole.mclrec.SEQREC_RECBOLE_CONFIG`.
    """
    return {
        "data_path": str(Path(root)),
        "dataset": name,
        "field_separator": FIELD_SEPARATOR,
        "USER_ID_FIELD": USER_FIELD,
        "ITEM_ID_FIELD": ITEM_FIELD,
        "TIME_FIELD": TIME_FIELD,
        "load_col": {"inter": [USER_FIELD, ITEM_FIELD, TIME_FIELD]},
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "rm_dup_inter": None,
        "filter_inter_by_user_or_item": False,
    }


__all__ = ["SEQUENCE_FIELDS", "TIME_FIELD", "inter_path", "sequence_columns", "sequence_data_config",
           "write_sequence_inter"]
