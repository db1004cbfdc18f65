"""The documentation site: pages in the navigation, the CLI page kept in step with the parser,
and (where mkdocs is installed) a strict build. CI builds the site with ``make docs``."""
from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
_NAV_PAGE = re.compile(r":\s*([\w./-]+\.md)\s*$", re.MULTILINE)


def _nav_pages() -> set[str]:
    text = (REPO / "mkdocs.yml").read_text()
    return set(_NAV_PAGE.findall(text.split("\nnav:", 1)[1]))


def test_every_page_is_in_the_navigation_and_every_nav_entry_exists() -> None:
    nav = _nav_pages()
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "_hooks" not in p.parts}
    generated = {"benchmarks/RESULTS.md"}  # served from the repository by docs/_hooks/repo_files.py
    assert pages - nav == set(), "pages missing from the nav of mkdocs.yml"
    assert nav - pages - generated == set(), "nav entries without a page"
    assert (REPO / "benchmarks" / "RESULTS.md").is_file()


def _options(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    """Sub-command -> its long options and positional names."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = {
                    opt for a in sub._actions if not isinstance(a, argparse._HelpAction)
                    for opt in (a.option_strings or [a.dest.upper()]) if opt.startswith("--") or not a.option_strings
                }
    return out


def test_cli_page_lists_every_command_option_and_method() -> None:
    from gcl.bench import METHODS
    from gcl.cli.main import _parser

    page = (DOCS / "cli.md").read_text()
    for command, options in _options(_parser()).items():
        assert f"`gcl {command}`" in page
        for option in options:
            assert f"`{option}" in page, f"docs/cli.md does not describe {option} of gcl {command}"
    for method in METHODS:
        assert f"| `{method}` |" in page, f"docs/cli.md does not list the method {method}"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                    reason="mkdocs is not installed here (the docs extra; CI runs `make docs`)")
def test_site_builds_strictly(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
