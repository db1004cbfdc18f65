"""MkDocs hooks: serve repository files that live outside ``docs/`` as part of the site.

* ``benchmarks/RESULTS.md`` becomes the page ``benchmarks/RESULTS.md`` and every image under
  ``benchmarks/`` the file of the same path, read from the repository at build time, so the
  benchmarks page is always the current report (no copy to go stale) and the plots it embeds
  by relative paths are found.
* Links written for browsing the repository (``../../benchmarks/RESULTS.md`` in
  ``docs/methods/meow.md``) are pointed at those site files. Any other link out of ``docs/``
  is left alone, so ``mkdocs build --strict`` reports it.
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

PAGES = ("benchmarks/RESULTS.md",)
ASSET_DIRS = ("benchmarks",)
ASSET_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif")

_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _repo(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def _repo_files(config: MkDocsConfig) -> list[str]:
    """Repository-relative paths served by the site (pages first, then images)."""
    repo = _repo(config)
    out = [p for p in PAGES if (repo / p).is_file()]
    for folder in ASSET_DIRS:
        out += sorted(
            p.relative_to(repo).as_posix()
            for p in (repo / folder).rglob("*")
            if p.suffix.lower() in ASSET_SUFFIXES and p.is_file()
        )
    return out


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """Add the repository files of :func:`_repo_files` under their repository paths."""
    repo = _repo(config)
    for rel in _repo_files(config):
        files.append(File.generated(config, rel, abs_src_path=str(repo / rel)))
    return files


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Rewrite links to served repository files as links between site files."""
    repo = _repo(config)
    docs = Path(config.docs_dir).resolve()
    served = set(_repo_files(config))
    source = Path(page.file.abs_src_path or "").resolve()

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if target.startswith(("#", "/")) or _SCHEME.match(target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        if resolved.is_relative_to(docs) or not resolved.is_relative_to(repo):
            return match.group(0)
        rel = resolved.relative_to(repo).as_posix()
        if rel not in served:
            return match.group(0)
        new = posixpath.relpath(rel, posixpath.dirname(page.file.src_uri) or ".")
        return f"{match.group(1)}{new}{'#' + anchor if anchor else ''}{match.group(3)}"

    return _LINK.sub(rewrite, markdown)
