"""Reader for text files with one line per user: ``user_id id id ...``.

Both the LightGCN interaction layout (``train.txt``/``test.txt``, 0-based item ids) and the
sequential-recommendation layout (``seqrec/Beauty.txt``, 1-based, chronological) store one
user per line: the user id, then that user's item ids, separated by blanks. This module
parses such a file in a handful of vectorised NumPy passes over its bytes (no Python loop
over lines or tokens) and keeps, for every value, the file line it came from, so callers can
report the exact line of a bad id.

Blank lines are skipped. Spaces, tabs and carriage returns all separate tokens, so files
written on Windows read the same. Every token must be a (optionally signed) decimal integer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gcl.data.errors import DatasetError

# Longest digit string that always fits in int64 (10**18 - 1 < 2**63).
_MAX_DIGITS = 18
_POW10 = 10 ** np.arange(_MAX_DIGITS + 1, dtype=np.int64)
_WHITESPACE = (ord(" "), ord("\t"), ord("\r"), ord("\v"), ord("\f"))


@dataclass
class UserLines:
    """The parsed contents of a one-line-per-user file.

    Attributes:
        path: the file that was read.
        users: ``[n_rows]`` int64, the first token of every non-blank line.
        offsets: ``[n_rows + 1]`` int64; row ``r`` owns ``values[offsets[r]:offsets[r + 1]]``.
        values: ``[n_values]`` int64, all tokens after the user id, rows concatenated.
        line_numbers: ``[n_rows]`` int64, the 1-based file line of each row.
    """

    path: Path
    users: np.ndarray
    offsets: np.ndarray
    values: np.ndarray
    line_numbers: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of non-blank lines."""
        return int(self.users.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        """``[n_rows]`` int64, number of values (ids after the user id) on each row."""
        return np.diff(self.offsets)

    def rows_of_values(self) -> np.ndarray:
        """``[n_values]`` int64, the row each value belongs to."""
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), self.lengths)

    def line_of_value(self, index: int) -> int:
        """1-based file line holding ``values[index]``."""
        row = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return int(self.line_numbers[row])

    def error_at_value(self, index: int, problem: str) -> DatasetError:
        """A :class:`DatasetError` naming this file and the line of ``values[index]``."""
        return DatasetError(self.path, problem, line=self.line_of_value(index))

    def error_at_row(self, row: int, problem: str) -> DatasetError:
        """A :class:`DatasetError` naming this file and the line of row ``row``."""
        return DatasetError(self.path, problem, line=int(self.line_numbers[row]))


def read_user_lines(path: str | os.PathLike, expected: str) -> UserLines:
    """Parse a one-line-per-user integer file.

    Args:
        path: the text file.
        expected: a short description of the layout (e.g. ``"one line per user: uid iid
            iid ..."``), quoted in error messages.

    Returns:
        A :class:`UserLines` with the user ids, the ragged per-user values and the line
        number of every row.

    Raises:
        DatasetError: the file is missing or unreadable, holds no token at all, or holds a
            token that is not a decimal integer (or one too long for int64); the message
            names the file, the line and the token.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, f"file not found; expected {expected}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(path, f"cannot read file ({exc}); expected {expected}") from exc

    buf = np.frombuffer(data, dtype=np.uint8)
    is_newline = buf == ord("\n")
    is_sep = is_newline.copy()
    for ch in _WHITESPACE:
        is_sep |= buf == ch
    is_tok = ~is_sep
    n = buf.shape[0]
    if n == 0 or not is_tok.any():
        raise DatasetError(path, f"empty file; expected {expected}")

    # Token boundaries: a token byte whose predecessor (successor) is not a token byte.
    prev_tok = np.zeros(n, dtype=bool)
    prev_tok[1:] = is_tok[:-1]
    next_tok = np.zeros(n, dtype=bool)
    next_tok[:-1] = is_tok[1:]
    starts = np.flatnonzero(is_tok & ~prev_tok)
    ends = np.flatnonzero(is_tok & ~next_tok) + 1
    tok_len = ends - starts
    # 0-based line index of every token: newlines strictly before its first byte.
    tok_line = np.cumsum(is_newline, dtype=np.int64)[starts]

    def bad_token(k: int, problem: str) -> DatasetError:
        text = data[starts[k] : ends[k]].decode("utf-8", errors="replace")
        if len(text) > 30:
            text = text[:30] + "..."
        return DatasetError(
            path, f"{problem} {text!r}; expected {expected}", line=int(tok_line[k]) + 1
        )

    # Only the bytes of tokens matter from here on.
    tb = buf[is_tok]
    first_in_tok = np.zeros(tb.shape[0], dtype=bool)
    tok_start_c = np.cumsum(tok_len) - tok_len  # token starts in the compressed byte array
    first_in_tok[tok_start_c] = True
    is_digit = (tb >= ord("0")) & (tb <= ord("9"))
    is_sign = first_in_tok & ((tb == ord("-")) | (tb == ord("+")))
    bad_byte = ~(is_digit | is_sign)
    # A lone sign is not a number either.
    lone_sign = is_sign[tok_start_c] & (tok_len == 1)
    if bad_byte.any() or lone_sign.any():
        bad_tok = np.zeros(tok_len.shape[0], dtype=bool)
        if bad_byte.any():
            tid_of_byte = np.cumsum(first_in_tok) - 1
            bad_tok[tid_of_byte[bad_byte]] = True
        bad_tok |= lone_sign
        raise bad_token(int(np.flatnonzero(bad_tok)[0]), "not an integer:")
    signed = is_sign[tok_start_c]
    too_long = (tok_len - signed) > _MAX_DIGITS
    if too_long.any():
        raise bad_token(int(np.flatnonzero(too_long)[0]), "integer too large:")

    # Value of every token: sum of digit * 10**(distance to the token's last byte).
    tid_of_byte = np.cumsum(first_in_tok) - 1
    tok_end_c = tok_start_c + tok_len
    power = tok_end_c[tid_of_byte] - 1 - np.arange(tb.shape[0], dtype=np.int64)
    digits = np.where(is_digit, tb.astype(np.int64) - ord("0"), 0)
    values = np.add.reduceat(digits * _POW10[power], tok_start_c)
    negative = signed & (tb[tok_start_c] == ord("-"))
    values[negative] = -values[negative]

    # Rows: the first token on each line is the user id, the rest are the row's values.
    first_of_line = np.ones(tok_line.shape[0], dtype=bool)
    first_of_line[1:] = tok_line[1:] != tok_line[:-1]
    row_of_tok = np.cumsum(first_of_line) - 1
    n_rows = int(row_of_tok[-1]) + 1
    rest = ~first_of_line
    counts = np.bincount(row_of_tok[rest], minlength=n_rows).astype(np.int64)
    offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return UserLines(
        path=path,
        users=values[first_of_line],
        offsets=offsets,
        values=values[rest],
        line_numbers=tok_line[first_of_line] + 1,
    )
