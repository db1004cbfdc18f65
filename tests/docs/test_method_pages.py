"""The method pages: every method of ``gcl.methods`` has one, and every defaults table on them
states the values the config classes really hold.

A defaults table is a Markdown table whose first column is ``field``; each other header cell
that holds a code span such as ``GRACEConfig()`` or ``SGLConfig.for_dataset("gowalla",
{"preset": "cpu"})`` names the configuration its column describes. Rows are `` `field` | value
| ... ``; ``-`` marks a field the class does not have.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

import gcl.methods

METHODS_DOCS = Path(__file__).resolve().parents[2] / "docs" / "methods"
_CONFIG_CALL = re.compile(r"`(\w+Config)(?:\.for_dataset\((.*)\)|\(\))`")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _defaults_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header cells, row cells) of every table whose first header cell is ``field``."""
    tables, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| field |"):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            tables.append((_cells(line), rows))
    return tables


def _config(header: str) -> Any | None:
    """The configuration a header cell names, or None for a plain column."""
    match = _CONFIG_CALL.search(header)
    if match is None:
        return None
    cls = getattr(gcl.methods, match.group(1))
    if match.group(2) is None:
        return cls()
    args = ast.literal_eval(f"({match.group(2)},)")
    return cls.for_dataset(*args)


def _same(cell: str, value: Any) -> bool:
    text = cell.strip("`")
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text == str(value)
    if isinstance(value, (list, tuple)) and isinstance(parsed, (list, tuple)):
        return list(parsed) == list(value)
    if isinstance(value, bool) or isinstance(parsed, bool):
        return parsed is value
    return parsed == value


PAGES = sorted(METHODS_DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_defaults_tables_match_the_config_classes(page: Path) -> None:
    for header, rows in _defaults_tables(page.read_text()):
        columns = {i: _config(h) for i, h in enumerate(header) if i > 0}
        columns = {i: c for i, c in columns.items() if c is not None}
        assert columns, f"{page.name}: a defaults table names no configuration in its header"
        for row in rows:
            field = row[0].strip("`")
            for i, cfg in columns.items():
                if row[i] == "-":
                    assert not hasattr(cfg, field), f"{page.name}: {field} of {header[i]} is given as '-'"
                    continue
                assert hasattr(cfg, field), f"{page.name}: {type(cfg).__name__} has no field {field!r}"
                assert _same(row[i], getattr(cfg, field)), (
                    f"{page.name}: {field} is {getattr(cfg, field)!r} in {header[i]}, the page says {row[i]}")


def test_the_pages_hold_defaults_tables_and_measured_blocks() -> None:
    for page in PAGES:
        text = page.read_text()
        assert _defaults_tables(text), f"{page.name} has no defaults table"
        assert "## Measured against the paper" in text and "<!-- measured:begin" in text, (
            f"{page.name} has no generated 'Measured against the paper' block")


def test_every_method_has_a_page() -> None:
    text = "\n".join(p.read_text() for p in PAGES)
    methods = [name for name in gcl.methods.__all__ if not name.endswith("Config")]
    missing = [name for name in methods if f"`{name}`" not in text and f"gcl.methods.{name}`" not in text]
    assert not missing, f"methods without a page in docs/methods/: {missing}"


def test_a_wrong_default_is_caught() -> None:
    text = "| field | `GRACEConfig()` | meaning |\n|---|---|---|\n| `tau` | 0.5 | temperature |\n"
    (header, rows), = _defaults_tables(text)
    assert not _same(rows[0][1], getattr(_config(header[1]), "tau"))
    assert _same("0.4", 0.4) and _same("(110, 700)", (110, 700)) and _same("relu", "relu")
    assert not _same("1", True) and _same("True", True) and _same("None", None)
