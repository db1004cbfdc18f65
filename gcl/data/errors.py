"""Errors raised by dataset loaders.

Every loader failure names the file and what was wrong with it, so a user with a broken
or mis-formatted copy knows which file to fix.
"""
from __future__ import annotations

import os
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file is missing, truncated or not in the expected layout.

    Attributes:
        path: the offending file or directory (``None`` when not file-specific).
        problem: what is wrong, in words.
        line: 1-based line number within ``path`` where the problem is, when known.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str, line: int | None = None):
        self.path = Path(path) if path is not None else None
        self.problem = problem
        self.line = line
        where = "" if self.path is None else str(self.path)
        if line is not None:
            where = f"{where}, line {line}"
        super().__init__(f"{where}: {problem}" if where else problem)


class UnknownDatasetError(KeyError):
    """The dataset name is not in the registry; the message lists the valid names."""

    def __init__(self, name: str, valid: list[str]):
        self.name = name
        self.valid = valid
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown dataset {self.name!r}; valid names: {', '.join(self.valid)}"


class MissingDatasetError(DatasetError):
    """The dataset is registered but its files are in none of the searched roots."""


class OptionalDependencyError(ImportError):
    """An optional extra (``rdkit``, ``recbole``, ...) is needed but not installed."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package {package!r}: "
            f"install it with `pip install gcl[{extra}]` (or `pip install {package}`)"
        )
