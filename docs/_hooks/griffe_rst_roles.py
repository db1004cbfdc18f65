"""Griffe extension: show the Sphinx roles of the docstrings as code in the site.

The docstrings cross-reference with reStructuredText roles (``:class:`~gcl.train.Trainer```),
which Markdown would print as they are. Each role becomes a code span of its target, the last
dotted part only where the target starts with ``~`` (as Sphinx shows it).
"""
from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const|math):`([^`]+)`")


def _code(match: re.Match[str]) -> str:
    target = match.group(1)
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


class RstRolesAsCode(griffe.Extension):
    """Rewrite the roles in every docstring of a loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg)

    def on_package_loaded(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """The same event under its griffe 1 name (the rewrite is idempotent)."""
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member)  # type: ignore[arg-type]
