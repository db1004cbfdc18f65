"""Sequential-recommendation data: :class:`SequenceDataset`.

Layout (ICLRec / CoSeRec / MCLRec ``data/<Name>.txt``): one line per user,
``user_id item item ...``, items in chronological order, item ids 1-based (0 is reserved
for padding). Registered as ``seqrec/<Name>.txt``.

**Split (leave-one-out).** For a user with items ``s_1 .. s_n``:

* test: predict ``s_n`` from ``s_1 .. s_{n-1}``;
* valid: predict ``s_{n-1}`` from ``s_1 .. s_{n-2}``;
* train: every prefix ``s_1 .. s_{t-1} -> s_t`` for ``t = 2 .. n-2`` (``n - 3`` per user).

Every user therefore needs at least 3 items. A shorter line is an error naming the file
and line, unless ``skip_short=True``, which drops such users (their count is kept in
:attr:`SequenceDataset.n_skipped`).

**Indexing.** A user is addressed by its *row* (0-based, in file order; the ids of the file
are kept in :attr:`SequenceDataset.user_ids`). An example is a pair ``(user, end)``: the
input is the user's items before position ``end`` (0-based) and the target is the item at
``end``. Inputs are cut to their last ``max_len`` items and **left-padded** with 0, so the
last column always holds the most recent item (the SASRec convention).

Everything is stored flat (``items`` + ``offsets``) and every batch is built with tensor
gathers, never a Python loop over sequences.

Registered names: ``beauty``, ``toys``, ``sports``, ``yelp`` and any other
``seqrec/<Name>.txt`` in a data root, named by its stem lower-cased (``_`` -> ``-``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import torch

from gcl.data.errors import DatasetError

from gcl.data.registry import Family, register_family
from gcl.data.userlines import read_user_lines

PAD = 0
MIN_LENGTH = 3
_LAYOUT = "one line per user: 'user_id item item ...' (1-based item ids, chronological)"


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[index]`` for a 1-D ``values`` and an index of any shape.

    Goes through ``index_select`` on the flattened index, which on CPU is far faster than
    advanced indexing with a multi-dimensional index.
    """
    return values.index_select(0, index.reshape(-1)).view(index.shape)


class SeqBatch(NamedTuple):
    """A batch of next-item examples.

    Attributes:
        users: ``[B]`` int64 user rows.
        ends: ``[B]`` int64 position of each target in its user's sequence.
        inputs: ``[B, max_len]`` int64 item ids before ``end``, left-padded with 0.
        targets: ``[B]`` int64 the item at ``end``.
        shifted: ``[B, max_len]`` int64 the item following each input position (0 where
            the input is padding), for per-position training losses; ``shifted[:, -1]``
            equals ``targets``. ``None`` for evaluation batches.
    """

    users: torch.Tensor
    ends: torch.Tensor
    inputs: torch.Tensor
    targets: torch.Tensor
    shifted: torch.Tensor | None = None

    def to(self, device: str | torch.device) -> "SeqBatch":
        return SeqBatch(*(None if t is None else t.to(device) for t in self))


@dataclass(eq=False, repr=False)
class SequenceDataset:
    """Chronological item sequences, one per user, with a leave-one-out split.

    Attributes:
        items: ``[n_actions]`` int64, all sequences concatenated (1-based item ids).
        offsets: ``[n_users + 1]`` int64; user row ``u`` owns ``items[offsets[u]:offsets[u+1]]``.
        user_ids: ``[n_users]`` int64 user ids as written in the file.
        n_items: largest item id; embedding tables need ``n_items + 1`` rows (row 0 = PAD).
        max_len: default input length (inputs keep their last ``max_len`` items).
        name: dataset name, for display.
        n_skipped: users dropped for having fewer than 3 items (``skip_short=True``).
    """

    items: torch.Tensor
    offsets: torch.Tensor
    user_ids: torch.Tensor
    n_items: int
    max_len: int = 50
    name: str = ""
    n_skipped: int = 0

    # --- counts ---------------------------------------------------------------------------

    @property
    def n_users(self) -> int:
        return int(self.offsets.numel()) - 1

    @property
    def n_actions(self) -> int:
        """Total number of (user, item) events."""
        return int(self.items.numel())

    @property
    def lengths(self) -> torch.Tensor:
        """``[n_users]`` int64 sequence length of every user."""
        return self.offsets[1:] - self.offsets[:-1]

    @property
    def n_train_examples(self) -> int:
        """Number of training prefixes, ``sum(n - 3)`` over users."""
        return int((self.lengths - MIN_LENGTH).clamp(min=0).sum())

    @property
    def device(self) -> torch.device:
        return self.items.device

    def sequence(self, user: int) -> torch.Tensor:
        """The full item sequence of user row ``user``."""
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    # --- examples -------------------------------------------------------------------------

    def _all_users(self) -> torch.Tensor:
        return torch.arange(self.n_users, device=self.device)

    def train_examples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every training prefix as ``(users, ends)``.

        Returns:
            Two int64 tensors ``[n_train_examples]``: user rows, and target positions
            ``1 .. n - 3`` of each user (the input is the items before it), ordered by user
            then position.
        """
        counts = (self.lengths - MIN_LENGTH).clamp(min=0)
        users = torch.repeat_interleave(self._all_users(), counts)
        first = torch.cumsum(counts, 0) - counts
        ends = torch.arange(users.numel(), device=self.device) - first[users] + 1
        return users, ends

    def valid_ends(self, users: torch.Tensor | None = None) -> torch.Tensor:
        """Position of the validation target (``n - 2``) of each user."""
        lengths = self.lengths if users is None else self.lengths[users]
        return lengths - 2

    def test_ends(self, users: torch.Tensor | None = None) -> torch.Tensor:
        """Position of the test target (``n - 1``) of each user."""
        lengths = self.lengths if users is None else self.lengths[users]
        return lengths - 1

    def padded_inputs(
        self, users: torch.Tensor, ends: torch.Tensor, max_len: int | None = None
    ) -> torch.Tensor:
        """The items before ``ends``, cut to the last ``max_len`` and left-padded with 0.

        Args:
            users: ``[B]`` int64 user rows.
            ends: ``[B]`` int64 exclusive end positions, ``0 <= end <= length``.
            max_len: columns of the result (default :attr:`max_len`).

        Returns:
            ``[B, max_len]`` int64; row ``b`` ends with ``seq[end - 1]`` in the last column,
            column ``c`` holds ``seq[end - max_len + c]`` or 0 where that position is < 0.
        """
        length = self.max_len if max_len is None else int(max_len)
        users = users.to(self.device)
        ends = ends.to(self.device)
        pos = ends.unsqueeze(1) - length + torch.arange(length, device=self.device)
        real = pos >= 0
        flat = self.offsets.index_select(0, users).unsqueeze(1) + pos.clamp(min=0)
        out = _gather(self.items, flat)
        return out.masked_fill_(~real, PAD)

    def targets_at(self, users: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """``[B]`` the item at position ``ends`` of each user's sequence."""
        return _gather(self.items, self.offsets[users.to(self.device)] + ends.to(self.device))

    def shifted_targets(
        self, users: torch.Tensor, ends: torch.Tensor, max_len: int | None = None
    ) -> torch.Tensor:
        """``[B, max_len]`` the next item after every input position (0 where input is PAD).

        Aligned with :meth:`padded_inputs` of the same arguments: column ``c`` holds the item
        that follows ``inputs[:, c]``; the last column is the target ``seq[end]``.
        """
        inputs = self.padded_inputs(users, ends, max_len)
        nxt = self.padded_inputs(users, ends + 1, max_len)
        return torch.where(inputs != PAD, nxt, torch.zeros_like(nxt))

    def batch(
        self,
        users: torch.Tensor,
        ends: torch.Tensor,
        max_len: int | None = None,
        shifted: bool = False,
    ) -> SeqBatch:
        """Inputs and targets of the examples ``(users, ends)`` as a :class:`SeqBatch`."""
        users = users.to(self.device)
        ends = ends.to(self.device)
        return SeqBatch(
            users=users,
            ends=ends,
            inputs=self.padded_inputs(users, ends, max_len),
            targets=self.targets_at(users, ends),
            shifted=self.shifted_targets(users, ends, max_len) if shifted else None,
        )

    def valid_batch(self, users: torch.Tensor | None = None, max_len: int | None = None) -> SeqBatch:
        """Validation examples: ``s_1 .. s_{n-2} -> s_{n-1}`` for ``users`` (default all)."""
        users = self._all_users() if users is None else users.to(self.device)
        return self.batch(users, self.valid_ends(users), max_len)

    def test_batch(self, users: torch.Tensor | None = None, max_len: int | None = None) -> SeqBatch:
        """Test examples: ``s_1 .. s_{n-1} -> s_n`` for ``users`` (default all)."""
        users = self._all_users() if users is None else users.to(self.device)
        return self.batch(users, self.test_ends(users), max_len)

    def history(
        self, users: torch.Tensor, ends: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Items each user saw before ``ends`` (default: before the test target), CSR-style.

        Meant for masking already-seen items in full ranking. Not truncated to ``max_len``.

        Args:
            users: ``[B]`` int64 user rows.
            ends: ``[B]`` exclusive end positions; default :meth:`test_ends` (for validation
                ranking pass :meth:`valid_ends`).

        Returns:
            ``(indptr, indices)``: ``indptr`` ``[B + 1]`` int64, ``indices`` int64 item ids
            with row ``b``'s items at ``indices[indptr[b]:indptr[b + 1]]`` in order.
        """
        users = users.to(self.device)
        ends = self.test_ends(users) if ends is None else ends.to(self.device)
        indptr = torch.zeros(users.numel() + 1, dtype=torch.int64, device=self.device)
        indptr[1:] = torch.cumsum(ends, 0)
        rows = torch.repeat_interleave(torch.arange(users.numel(), device=self.device), ends)
        within = torch.arange(rows.numel(), device=self.device) - indptr[rows]
        return indptr, _gather(self.items, self.offsets[users][rows] + within)

    def train_loader(
        self,
        batch_size: int = 256,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        max_len: int | None = None,
    ) -> "PrefixLoader":
        """An iterable over batches of training prefixes (see :class:`PrefixLoader`)."""
        return PrefixLoader(self, batch_size, shuffle, generator, drop_last, max_len)

    # --- subsets and devices ---------------------------------------------------------------

    def select(self, users: torch.Tensor | Sequence[int]) -> "SequenceDataset":
        """A dataset of the given user rows (in that order); ``n_items`` is unchanged."""
        users = torch.as_tensor(users, dtype=torch.int64, device=self.device)
        counts = self.lengths[users]
        offsets = torch.zeros(users.numel() + 1, dtype=torch.int64, device=self.device)
        offsets[1:] = torch.cumsum(counts, 0)
        rows = torch.repeat_interleave(torch.arange(users.numel(), device=self.device), counts)
        within = torch.arange(rows.numel(), device=self.device) - offsets[rows]
        items = _gather(self.items, self.offsets[users][rows] + within)
        return replace(self, items=items, offsets=offsets, user_ids=self.user_ids[users])

    def to(self, device: str | torch.device) -> "SequenceDataset":
        """A copy with every tensor on ``device``."""
        return replace(
            self,
            items=self.items.to(device),
            offsets=self.offsets.to(device),
            user_ids=self.user_ids.to(device),
        )

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        skipped = f", skipped={self.n_skipped:,}" if self.n_skipped else ""
        return (
            f"SequenceDataset({name}users={self.n_users:,}, items={self.n_items:,}, "
            f"actions={self.n_actions:,}, train prefixes={self.n_train_examples:,}, "
            f"max_len={self.max_len}{skipped}, device={self.device})"
        )


class PrefixLoader:
    """Batches of training prefixes of a :class:`SequenceDataset`.

    Each pass (``iter``) draws a fresh order from ``generator`` when ``shuffle`` is set, so
    successive epochs differ while a seeded generator makes the whole run reproducible.
    Yields :class:`SeqBatch` objects with ``shifted`` filled.
    """

    def __init__(
        self,
        dataset: SequenceDataset,
        batch_size: int = 256,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        max_len: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.max_len = max_len
        self.users, self.ends = dataset.train_examples()

    def __len__(self) -> int:
        n = self.users.numel()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[SeqBatch]:
        n = self.users.numel()
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.users.device)
        else:
            order = torch.arange(n, device=self.users.device)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield self.dataset.batch(self.users[idx], self.ends[idx], self.max_len, shifted=True)


# ----------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------


def load_sequences(
    path: str | os.PathLike,
    name: str | None = None,
    *,
    max_len: int = 50,
    skip_short: bool = False,
) -> SequenceDataset:
    """Read a one-line-per-user sequence file.

    Args:
        path: the text file (``user_id item item ...``, 1-based item ids, chronological).
        name: dataset name (default: the file's stem).
        max_len: default input length of the returned dataset.
        skip_short: drop users with fewer than 3 items instead of raising.

    Returns:
        A :class:`SequenceDataset` on the CPU, users in file order.

    Raises:
        DatasetError: the file is missing or empty; a token is not an integer; an item id is
            0 or negative; a user id appears twice; a user has fewer than 3 items (unless
            ``skip_short``). File and line are named.
    """
    path = Path(path)
    lines = read_user_lines(path, _LAYOUT)
    bad = np.flatnonzero(lines.values < 1)
    if bad.size:
        v = int(bad[0])
        raise lines.error_at_value(
            v, f"item id {int(lines.values[v])}: item ids are 1-based (0 is the padding id)"
        )
    # Duplicate users: sort stably, compare neighbours, report the later line.
    order = np.argsort(lines.users, kind="stable")
    sorted_users = lines.users[order]
    dup = np.flatnonzero(sorted_users[1:] == sorted_users[:-1])
    if dup.size:
        first_row, again_row = int(order[dup[0]]), int(order[dup[0] + 1])
        raise lines.error_at_row(
            again_row,
            f"user id {int(lines.users[again_row])} appears again (first on line "
            f"{int(lines.line_numbers[first_row])}); expected one line per user",
        )
    lengths = lines.lengths
    short = lengths < MIN_LENGTH
    n_skipped = 0
    keep_values = None
    if short.any():
        if not skip_short:
            r = int(np.flatnonzero(short)[0])
            raise lines.error_at_row(
                r,
                f"user {int(lines.users[r])} has {int(lengths[r])} item(s); the leave-one-out "
                f"split needs at least {MIN_LENGTH} (pass skip_short=True to drop such users)",
            )
        n_skipped = int(short.sum())
        keep_values = np.repeat(~short, lengths)
        lengths = lengths[~short]
    values = lines.values if keep_values is None else lines.values[keep_values]
    users = lines.users if keep_values is None else lines.users[~short]
    if values.size == 0:
        raise DatasetError(path, f"no user with at least {MIN_LENGTH} items; expected {_LAYOUT}")
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return SequenceDataset(
        items=torch.from_numpy(np.ascontiguousarray(values)),
        offsets=torch.from_numpy(offsets),
        user_ids=torch.from_numpy(np.ascontiguousarray(users)),
        n_items=int(values.max()),
        max_len=max_len,
        name=path.stem if name is None else name,
        n_skipped=n_skipped,
    )


# ----------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------

FIXED_NAMES: dict[str, str] = {
    "beauty": "seqrec/Beauty.txt",
    "toys": "seqrec/Toys_and_Games.txt",
    "sports": "seqrec/Sports_and_Outdoors.txt",
    "yelp": "seqrec/Yelp.txt",
}
# Text files that may sit beside the data and are not datasets.
_NOT_DATA = {"readme", "source", "license", "sha256sums", "md5sums", "notes"}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _sequence_files(root: Path) -> list[Path]:
    base = root / "seqrec"
    try:
        files = sorted(base.glob("*.txt")) if base.is_dir() else []
    except OSError:
        return []
    return [f for f in files if f.is_file() and f.stem.lower() not in _NOT_DATA]


def _discover(root: Path) -> list[str]:
    fixed = set(FIXED_NAMES.values())
    return [
        _normalise(f.stem) for f in _sequence_files(root) if f"seqrec/{f.name}" not in fixed
    ]


def _resolve(name: str, roots: list[Path]) -> str | None:
    for root in roots:
        for f in _sequence_files(root):
            if _normalise(f.stem) == name:
                return f"seqrec/{f.name}"
    return None


def _registry_loader(path: Path, name: str, **kwargs: object) -> SequenceDataset:
    return load_sequences(path, name, **kwargs)  # type: ignore[arg-type]


register_family(
    Family(
        kind="sequences",
        loader=_registry_loader,
        description="one-line-per-user item sequences, leave-one-out split (ICLRec layout)",
        names=dict(FIXED_NAMES),
        resolve=_resolve,
        discover=_discover,
    )
)

__all__ = ["PAD", "PrefixLoader", "SeqBatch", "SequenceDataset", "load_sequences"]
