"""User-item interaction data for collaborative filtering: :class:`InteractionGraph`.

Two upstream layouts are read, both from a folder under ``recsys/`` in a data root:

* **LightGCN text layout** (LightGCN, NGCF, SGL, SimGCL, ...): ``train.txt`` and
  ``test.txt`` hold one line per user, ``uid iid iid ...``, 0-based, blank-separated; a line
  may carry the user id alone (a user without items in that split). An optional
  ``valid.txt`` in the same layout is used as the validation split. Optional
  ``user_list.txt`` / ``item_list.txt`` (``org_id remap_id`` per line, a header line allowed)
  fix the number of users / items; without them the counts are the largest id seen in any
  split plus one (users and items are counted over train, valid and test together).
* **Pickled matrices** (LightGCL): ``trnMat.pkl``, ``tstMat.pkl`` and optionally
  ``valMat.pkl``, each a pickled ``scipy.sparse`` user x item matrix of one shape. Every
  stored non-zero entry counts as one interaction.

All splits are binary: a pair listed twice counts once.

**Validation split.** When the data has none, one is carved from the training
interactions (``valid_ratio``, default 0.1): every user with ``d >= 2`` training items moves
``k = clip(floor(valid_ratio * d + 0.5), 1, d - 1)`` of them, chosen uniformly at random, to
validation; users with a single training item keep it. The choice depends only on ``seed``
and the data, and is drawn for all users at once (one random key per interaction, ranked
within each user by a sort). ``valid_ratio=0`` keeps the full training set and leaves the
validation split empty (the setting of the LightGCN paper, which has no validation set).

Registered names: ``gowalla``, ``yelp2018``, ``amazon-book`` (``recsys/<name>``) and any
other folder under ``recsys/`` that holds ``train.txt`` + ``test.txt`` or ``trnMat.pkl`` +
``tstMat.pkl`` (its name lower-cased, ``_`` -> ``-``).
"""
from __future__ import annotations

import os
import pickle
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from gcl.data.errors import DatasetError

from gcl.data.registry import Family, register_family
from gcl.data.userlines import UserLines, read_user_lines

SPLITS = ("train", "valid", "test")
TEXT_FILES = ("train.txt", "test.txt")
PICKLE_FILES = ("trnMat.pkl", "tstMat.pkl")
_TEXT_LAYOUT = "one line per user: 'uid iid iid ...' (0-based integer ids)"
_MATRIX_LAYOUT = "a pickled scipy.sparse user x item matrix"

PairsLike = tuple[Any, Any]


# ----------------------------------------------------------------------------------------
# The container
# ----------------------------------------------------------------------------------------


def _as_numpy_long(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.int64).reshape(-1)


def _sparse_csr(crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``torch.sparse_csr_tensor`` without the beta-state warning (inputs are canonical)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        return torch.sparse_csr_tensor(crow, col, val, size=size, check_invariants=False)


def _unique_sorted(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (a sort and a neighbour comparison)."""
    keys = np.sort(keys)
    if keys.size:
        keep = np.empty(keys.shape[0], dtype=bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
    return keys


def _csr_from_pairs(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> torch.Tensor:
    """A binary ``[n_users, n_items]`` float32 sparse CSR tensor from (user, item) pairs.

    Duplicate pairs are merged; columns are sorted within each row.
    """
    key = _unique_sorted(users * np.int64(max(n_items, 1)) + items)
    rows = key // max(n_items, 1)
    cols = key - rows * n_items
    crow = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_users), out=crow[1:])
    return _sparse_csr(
        torch.from_numpy(crow),
        torch.from_numpy(cols.astype(np.int64, copy=False)),
        torch.ones(cols.shape[0], dtype=torch.float32),
        (n_users, n_items),
    )


def _rows_of(csr: torch.Tensor) -> torch.Tensor:
    crow = csr.crow_indices()
    n_rows = crow.numel() - 1
    return torch.repeat_interleave(
        torch.arange(n_rows, device=crow.device), crow[1:] - crow[:-1]
    )


@dataclass(eq=False, repr=False)
class InteractionGraph:
    """Binary user-item interactions split into train / valid / test.

    Every split is a ``torch.sparse_csr`` float32 tensor of shape ``[n_users, n_items]``
    whose stored values are all 1 (int64 ``crow_indices`` / ``col_indices``, columns sorted
    within each row). ``split.crow_indices()`` and ``split.col_indices()`` give the per-user
    item lists directly.

    Attributes:
        n_users: number of users (rows).
        n_items: number of items (columns).
        train: training interactions.
        valid: validation interactions (may be empty, see ``valid_origin``).
        test: test interactions.
        name: dataset name, for display.
        valid_origin: ``"file"`` (a validation split shipped with the data), ``"train"``
            (carved from the training data, see :func:`carve_validation`) or ``"none"``.
    """

    n_users: int
    n_items: int
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    name: str = ""
    valid_origin: str = "file"
    _norm_adj: torch.Tensor | None = field(default=None, init=False, repr=False)

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_pairs(
        cls,
        n_users: int,
        n_items: int,
        train: PairsLike,
        test: PairsLike,
        valid: PairsLike | None = None,
        *,
        name: str = "",
        valid_origin: str | None = None,
    ) -> "InteractionGraph":
        """Build from (users, items) id arrays (NumPy, torch or lists), one pair per entry.

        Args:
            n_users: number of users; every user id must be in ``[0, n_users)``.
            n_items: number of items; every item id must be in ``[0, n_items)``.
            train: ``(users, items)`` training pairs, two equal-length 1-D arrays.
            test: ``(users, items)`` test pairs.
            valid: ``(users, items)`` validation pairs, or ``None`` for an empty split.
            name: dataset name.
            valid_origin: recorded as :attr:`valid_origin` (default ``"file"`` when
                ``valid`` is given, else ``"none"``).

        Returns:
            The graph; duplicate pairs are merged.

        Raises:
            ValueError: arrays of unequal length or ids out of range.
        """
        mats = {}
        for split, pairs in (("train", train), ("valid", valid), ("test", test)):
            if pairs is None:
                pairs = (np.zeros(0, np.int64), np.zeros(0, np.int64))
            users, items = (_as_numpy_long(p) for p in pairs)
            if users.shape != items.shape:
                raise ValueError(
                    f"{split}: {users.shape[0]} user ids but {items.shape[0]} item ids"
                )
            if users.size and (users.min() < 0 or users.max() >= n_users):
                raise ValueError(f"{split}: user ids must lie in [0, {n_users})")
            if items.size and (items.min() < 0 or items.max() >= n_items):
                raise ValueError(f"{split}: item ids must lie in [0, {n_items})")
            mats[split] = _csr_from_pairs(users, items, n_users, n_items)
        if valid_origin is None:
            valid_origin = "file" if valid is not None else "none"
        return cls(n_users, n_items, mats["train"], mats["valid"], mats["test"], name, valid_origin)

    # --- counts and access ----------------------------------------------------------------

    def split(self, name: str) -> torch.Tensor:
        """The CSR matrix of split ``name`` (``"train"``, ``"valid"`` or ``"test"``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)

    @property
    def n_train(self) -> int:
        """Number of training interactions."""
        return int(self.train.col_indices().numel())

    @property
    def n_valid(self) -> int:
        """Number of validation interactions."""
        return int(self.valid.col_indices().numel())

    @property
    def n_test(self) -> int:
        """Number of test interactions."""
        return int(self.test.col_indices().numel())

    @property
    def n_nodes(self) -> int:
        """Users plus items: the size of the bipartite graph."""
        return self.n_users + self.n_items

    @property
    def device(self) -> torch.device:
        return self.train.device

    def pairs(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """The (user, item) pairs of a split.

        Returns:
            ``(users, items)``, two int64 tensors of shape ``[nnz]``, sorted by user then item.
        """
        mat = self.split(split)
        return _rows_of(mat), mat.col_indices()

    def train_pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The training (user, item) pairs as two int64 tensors ``[n_train]``."""
        return self.pairs("train")

    def user_degrees(self, split: str = "train") -> torch.Tensor:
        """``[n_users]`` int64, interactions per user in ``split``."""
        crow = self.split(split).crow_indices()
        return crow[1:] - crow[:-1]

    def item_degrees(self, split: str = "train") -> torch.Tensor:
        """``[n_items]`` int64, interactions per item in ``split``."""
        return torch.bincount(self.split(split).col_indices(), minlength=self.n_items)

    def seen_before(self, split: str) -> torch.Tensor:
        """Interactions to exclude when ranking items for ``split``, as a binary CSR matrix.

        For ``"valid"`` this is the training set; for ``"test"`` the training plus
        validation sets (the validation items are known at test time).
        """
        if split == "valid" or (split == "test" and self.n_valid == 0):
            return self.train
        if split != "test":
            raise ValueError(f"seen_before expects 'valid' or 'test', got {split!r}")
        users = torch.cat([self.pairs("train")[0], self.pairs("valid")[0]]).cpu().numpy()
        items = torch.cat([self.pairs("train")[1], self.pairs("valid")[1]]).cpu().numpy()
        return _csr_from_pairs(users, items, self.n_users, self.n_items).to(self.device)

    # --- graph views ----------------------------------------------------------------------

    def normalized_adjacency(self) -> torch.Tensor:
        """The symmetric normalised bipartite adjacency of the training graph.

        ``D^-1/2 A D^-1/2`` with ``A = [[0, R], [R^T, 0]]``, ``R`` the binary training matrix
        and ``D`` the node degrees of ``A``; nodes without training interactions get a zero
        row. Users are nodes ``0 .. n_users - 1``, item ``i`` is node ``n_users + i``.
        Computed once and cached.

        Returns:
            float32 sparse CSR tensor ``[n_users + n_items, n_users + n_items]`` on
            :attr:`device`, columns sorted within each row.
        """
        if self._norm_adj is not None:
            return self._norm_adj
        dev = self.device
        n_u, n_i = self.n_users, self.n_items
        users, items = self.train_pairs()
        d_user = self.user_degrees().to(torch.float32)
        d_item = self.item_degrees().to(torch.float32)
        inv_u = torch.where(d_user > 0, d_user.clamp(min=1).rsqrt(), torch.zeros_like(d_user))
        inv_i = torch.where(d_item > 0, d_item.clamp(min=1).rsqrt(), torch.zeros_like(d_item))
        w = inv_u.index_select(0, users) * inv_i.index_select(0, items)
        # Upper block: the user rows of R, columns shifted past the users.
        crow_top = self.train.crow_indices()
        # Lower block: R^T in CSR form, i.e. the pairs ordered by item, then user; the pairs
        # come sorted by user, so a stable sort by item gives that order.
        order = torch.argsort(items, stable=True)
        crow_bot = torch.zeros(n_i + 1, dtype=torch.int64, device=dev)
        crow_bot[1:] = torch.cumsum(torch.bincount(items, minlength=n_i), 0)
        nnz = users.numel()
        crow = torch.cat([crow_top, crow_bot[1:] + nnz])
        col = torch.cat([items + n_u, users.index_select(0, order)])
        val = torch.cat([w, w.index_select(0, order)])
        self._norm_adj = _sparse_csr(crow, col, val, (n_u + n_i, n_u + n_i))
        return self._norm_adj

    # --- housekeeping ---------------------------------------------------------------------

    def to(self, device: str | torch.device) -> "InteractionGraph":
        """A copy with every tensor (and a cached normalised adjacency) on ``device``."""
        out = replace(
            self,
            train=self.train.to(device),
            valid=self.valid.to(device),
            test=self.test.to(device),
        )
        if self._norm_adj is not None:
            out._norm_adj = self._norm_adj.to(device)
        return out

    def __repr__(self) -> str:
        dens = self.n_train / max(1, self.n_users * self.n_items)
        name = f"{self.name!r}, " if self.name else ""
        return (
            f"InteractionGraph({name}users={self.n_users:,}, items={self.n_items:,}, "
            f"train={self.n_train:,}, valid={self.n_valid:,} ({self.valid_origin}), "
            f"test={self.n_test:,}, train density={dens:.2e}, device={self.device})"
        )


# ----------------------------------------------------------------------------------------
# Validation carving
# ----------------------------------------------------------------------------------------


def carve_validation(users: np.ndarray, n_users: int, ratio: float, seed: int = 0) -> np.ndarray:
    """Choose per user the training interactions that move to a validation split.

    Every user with ``d >= 2`` interactions gives ``clip(floor(ratio * d + 0.5), 1, d - 1)``
    of them, picked uniformly at random; users with one interaction give none. Vectorised:
    one random key per interaction, ranked within its user by a single lexicographic sort.

    Args:
        users: ``[nnz]`` int64 user of each interaction (any order).
        n_users: number of users.
        ratio: fraction in ``[0, 1)``; 0 selects nothing.
        seed: seed of the NumPy generator drawing the keys.

    Returns:
        ``[nnz]`` bool mask, ``True`` for interactions moved to validation.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"valid_ratio must lie in [0, 1), got {ratio}")
    users = np.asarray(users, dtype=np.int64)
    nnz = users.shape[0]
    if ratio == 0.0 or nnz == 0:
        return np.zeros(nnz, dtype=bool)
    degree = np.bincount(users, minlength=n_users)
    k = np.clip(np.floor(ratio * degree + 0.5).astype(np.int64), 1, np.maximum(degree - 1, 1))
    k[degree < 2] = 0
    # One random 31-bit key per interaction below the user id: sorting the combined key
    # orders interactions by user, then randomly within each user.
    keys = np.random.default_rng(seed).integers(0, 2**31, size=nnz, dtype=np.int64)
    order = np.argsort((users << 31) | keys, kind="stable")
    start = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(degree, out=start[1:])
    sorted_users = users[order]
    rank = np.arange(nnz, dtype=np.int64) - start[sorted_users]
    mask = np.zeros(nnz, dtype=bool)
    mask[order] = rank < k[sorted_users]
    return mask


def _with_validation(
    n_users: int,
    n_items: int,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray] | None,
    valid_ratio: float,
    seed: int,
    name: str,
) -> InteractionGraph:
    """Assemble the graph, carving validation from train when no split is given."""
    if valid is not None:
        return InteractionGraph.from_pairs(n_users, n_items, train, test, valid, name=name)
    if valid_ratio == 0.0:
        return InteractionGraph.from_pairs(n_users, n_items, train, test, None, name=name)
    # Canonical (deduplicated, sorted) training pairs first, so the carve is reproducible.
    key = _unique_sorted(train[0] * np.int64(n_items) + train[1])
    users, items = key // n_items, key % n_items
    moved = carve_validation(users, n_users, valid_ratio, seed)
    return InteractionGraph.from_pairs(
        n_users,
        n_items,
        (users[~moved], items[~moved]),
        test,
        (users[moved], items[moved]),
        name=name,
        valid_origin="train",
    )


# ----------------------------------------------------------------------------------------
# LightGCN text layout
# ----------------------------------------------------------------------------------------


def _read_id_list(path: Path) -> int:
    """Number of ids in a ``user_list.txt`` / ``item_list.txt`` (``org_id remap_id`` lines).

    Returns ``max(remap_id) + 1``. A first line whose last field is not an integer is a
    header and skipped; original ids may be any text.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DatasetError(path, f"cannot read file ({exc})") from exc
    lines = [(no, ln) for no, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if lines and not lines[0][1].split()[-1].lstrip("-").isdigit():
        lines = lines[1:]  # header, e.g. "org_id remap_id"
    if not lines:
        raise DatasetError(path, "empty file; expected 'org_id remap_id' lines")
    last = [ln.rsplit(None, 1)[-1] for _, ln in lines]
    bad = [k for k, t in enumerate(last) if not (t.isascii() and t.isdigit() and len(t) <= 18)]
    if bad:
        k = bad[0]
        raise DatasetError(
            path,
            f"remap id {last[k]!r} is not a non-negative integer; expected 'org_id remap_id' lines",
            line=lines[k][0],
        )
    return int(np.array(last).astype(np.int64).max()) + 1


def _check_ids(lines: UserLines, n_users: int | None, n_items: int | None, lists: dict[str, Path]) -> None:
    """Raise on negative ids, or ids beyond a count fixed by ``user_list``/``item_list``."""
    neg_u = np.flatnonzero(lines.users < 0)
    if neg_u.size:
        r = int(neg_u[0])
        raise lines.error_at_row(r, f"negative user id {int(lines.users[r])}; ids are 0-based")
    neg_i = np.flatnonzero(lines.values < 0)
    if neg_i.size:
        v = int(neg_i[0])
        raise lines.error_at_value(v, f"negative item id {int(lines.values[v])}; ids are 0-based")
    if n_users is not None:
        over = np.flatnonzero(lines.users >= n_users)
        if over.size:
            r = int(over[0])
            raise lines.error_at_row(
                r, f"user id {int(lines.users[r])} is beyond the {n_users} users listed in "
                f"{lists['user'].name}",
            )
    if n_items is not None:
        over = np.flatnonzero(lines.values >= n_items)
        if over.size:
            v = int(over[0])
            raise lines.error_at_value(
                v, f"item id {int(lines.values[v])} is beyond the {n_items} items listed in "
                f"{lists['item'].name}",
            )


def _pairs_of(lines: UserLines) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(lines.users, lines.lengths), lines.values


def load_lightgcn_files(
    train: str | os.PathLike,
    test: str | os.PathLike,
    valid: str | os.PathLike | None = None,
    *,
    item_list: str | os.PathLike | None = None,
    user_list: str | os.PathLike | None = None,
    valid_ratio: float = 0.1,
    seed: int = 0,
    name: str = "",
) -> InteractionGraph:
    """Read interaction files in the LightGCN text layout.

    Args:
        train: training file, one line per user ``uid iid iid ...`` (0-based ids).
        test: test file, same layout.
        valid: optional validation file, same layout; without it a validation split is
            carved from ``train`` (see the module docstring).
        item_list: optional ``item_list.txt``; fixes ``n_items`` (ids beyond it are errors).
        user_list: optional ``user_list.txt``; fixes ``n_users``.
        valid_ratio: fraction of each user's training items carved for validation when
            ``valid`` is absent; 0 keeps all of train.
        seed: seed of the carve.
        name: dataset name.

    Returns:
        An :class:`InteractionGraph` on the CPU.

    Raises:
        DatasetError: a file is missing, empty, holds a non-integer token, a negative id, an
            id beyond ``user_list``/``item_list``, or no interaction at all (file and line
            named).
    """
    paths = {"train": Path(train), "test": Path(test)}
    if valid is not None:
        paths["valid"] = Path(valid)
    lists = {k: Path(p) for k, p in (("user", user_list), ("item", item_list)) if p is not None}
    n_users_fixed = _read_id_list(lists["user"]) if "user" in lists else None
    n_items_fixed = _read_id_list(lists["item"]) if "item" in lists else None

    parsed: dict[str, UserLines] = {}
    for split, p in paths.items():
        lines = read_user_lines(p, _TEXT_LAYOUT)
        _check_ids(lines, n_users_fixed, n_items_fixed, lists)
        if lines.values.size == 0:
            raise DatasetError(p, f"no interactions: every line holds a user id only; expected {_TEXT_LAYOUT}")
        parsed[split] = lines

    n_users = n_users_fixed
    if n_users is None:
        n_users = int(max(int(pl.users.max()) for pl in parsed.values())) + 1
    n_items = n_items_fixed
    if n_items is None:
        n_items = int(max(int(pl.values.max()) for pl in parsed.values())) + 1

    pairs = {split: _pairs_of(pl) for split, pl in parsed.items()}
    return _with_validation(
        n_users, n_items, pairs["train"], pairs["test"], pairs.get("valid"), valid_ratio, seed, name
    )


def load_lightgcn(
    folder: str | os.PathLike, *, valid_ratio: float = 0.1, seed: int = 0, name: str | None = None
) -> InteractionGraph:
    """Read a LightGCN-layout folder (``train.txt``, ``test.txt``; optional ``valid.txt``,
    ``user_list.txt``, ``item_list.txt``). See :func:`load_lightgcn_files`."""
    folder = Path(folder)
    opt = {f: folder / f"{f}.txt" for f in ("valid", "user_list", "item_list")}
    opt = {k: (p if p.is_file() else None) for k, p in opt.items()}
    return load_lightgcn_files(
        folder / "train.txt",
        folder / "test.txt",
        opt["valid"],
        item_list=opt["item_list"],
        user_list=opt["user_list"],
        valid_ratio=valid_ratio,
        seed=seed,
        name=folder.name if name is None else name,
    )


# ----------------------------------------------------------------------------------------
# Pickled scipy matrices (LightGCL layout)
# ----------------------------------------------------------------------------------------


def _read_matrix(path: Path) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """Unpickle one ``scipy.sparse`` matrix; return its shape and non-zero (row, col) pairs."""
    import scipy.sparse as sp

    if not path.is_file():
        raise DatasetError(path, f"file not found; expected {_MATRIX_LAYOUT}")
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
    except Exception as exc:  # unpickling a damaged file can fail in many ways
        raise DatasetError(
            path, f"truncated or corrupt pickle ({type(exc).__name__}: {exc}); expected {_MATRIX_LAYOUT}"
        ) from exc
    if not sp.issparse(obj):
        raise DatasetError(path, f"holds a {type(obj).__name__}, expected {_MATRIX_LAYOUT}")
    if len(obj.shape) != 2:
        raise DatasetError(path, f"holds a {len(obj.shape)}-D sparse array, expected {_MATRIX_LAYOUT}")
    coo = sp.coo_matrix(obj)
    nonzero = coo.data != 0
    return (int(coo.shape[0]), int(coo.shape[1])), coo.row[nonzero].astype(np.int64), coo.col[nonzero].astype(np.int64)


def load_pickled_matrices(
    train: str | os.PathLike,
    test: str | os.PathLike,
    valid: str | os.PathLike | None = None,
    *,
    valid_ratio: float = 0.1,
    seed: int = 0,
    name: str = "",
) -> InteractionGraph:
    """Read pickled ``scipy.sparse`` user x item matrices (LightGCL's ``trnMat.pkl`` ...).

    Args:
        train: pickled training matrix (coo, csr or any scipy sparse format).
        test: pickled test matrix of the same shape.
        valid: optional pickled validation matrix of the same shape; without it a validation
            split is carved from ``train`` (see the module docstring).
        valid_ratio: carve fraction when ``valid`` is absent; 0 keeps all of train.
        seed: seed of the carve.
        name: dataset name.

    Returns:
        An :class:`InteractionGraph` on the CPU with the matrices' shape; every stored
        non-zero entry is one interaction.

    Raises:
        DatasetError: a file is missing, truncated or corrupt, holds something other than a
            2-D sparse matrix, or its shape differs from the training matrix's.
    """
    files = {"train": Path(train), "test": Path(test)}
    if valid is not None:
        files["valid"] = Path(valid)
    mats = {split: _read_matrix(p) for split, p in files.items()}
    shape = mats["train"][0]
    for split, (shp, _, _) in mats.items():
        if shp != shape:
            raise DatasetError(
                files[split],
                f"matrix shape {shp} does not match the training matrix shape {shape} of "
                f"{files['train'].name}; all splits must be users x items of one shape",
            )
    if mats["train"][1].size == 0:
        raise DatasetError(files["train"], "the training matrix has no non-zero entry")
    pairs = {split: (r, c) for split, (_, r, c) in mats.items()}
    return _with_validation(
        shape[0], shape[1], pairs["train"], pairs["test"], pairs.get("valid"), valid_ratio, seed, name
    )


# ----------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------


def _layout_of(folder: Path) -> str | None:
    if any((folder / f).is_file() for f in TEXT_FILES):
        return "text"
    if any((folder / f).is_file() for f in PICKLE_FILES):
        return "pickle"
    return None


def load_interactions(path: str | os.PathLike, name: str = "", **kwargs: Any) -> InteractionGraph:
    """Read an interaction dataset folder in either layout (the registry's loader).

    Args:
        path: a folder holding ``train.txt`` + ``test.txt`` or ``trnMat.pkl`` + ``tstMat.pkl``
            (optionally ``valMat.pkl``).
        name: dataset name.
        **kwargs: ``valid_ratio``, ``seed`` (see :func:`load_lightgcn_files`).

    Raises:
        DatasetError: the folder holds neither layout, or a file of it is bad.
    """
    folder = Path(path)
    layout = _layout_of(folder) if folder.is_dir() else None
    name = name or folder.name
    if layout == "text":
        return load_lightgcn(folder, name=name, **kwargs)
    if layout == "pickle":
        valid = folder / "valMat.pkl"
        return load_pickled_matrices(
            folder / PICKLE_FILES[0],
            folder / PICKLE_FILES[1],
            valid if valid.is_file() else None,
            name=name,
            **kwargs,
        )
    raise DatasetError(
        folder,
        "expected a folder holding train.txt + test.txt (LightGCN layout) or trnMat.pkl + "
        "tstMat.pkl (pickled scipy matrices)",
    )


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _dataset_dirs(root: Path) -> Iterable[Path]:
    base = root / "recsys"
    try:
        children = sorted(base.iterdir()) if base.is_dir() else []
    except OSError:
        return []
    return [d for d in children if d.is_dir() and _layout_of(d) is not None]


def _discover(root: Path) -> list[str]:
    return [_normalise(d.name) for d in _dataset_dirs(root)]


def _resolve(name: str, roots: list[Path]) -> str | None:
    for root in roots:
        for d in _dataset_dirs(root):
            if _normalise(d.name) == name:
                return f"recsys/{d.name}"
    return None


FIXED_NAMES: dict[str, str] = {
    "gowalla": "recsys/gowalla",
    "yelp2018": "recsys/yelp2018",
    "amazon-book": "recsys/amazon-book",
}

register_family(
    Family(
        kind="interactions",
        loader=load_interactions,
        description="user-item interactions (LightGCN train/test.txt or LightGCL pickled matrices)",
        names=dict(FIXED_NAMES),
        resolve=_resolve,
        discover=_discover,
    )
)

__all__: Sequence[str] = [
    "InteractionGraph",
    "carve_validation",
    "load_interactions",
    "load_lightgcn",
    "load_lightgcn_files",
    "load_pickled_matrices",
]
