"""Checking ``--config`` hyper-parameters against a method's config dataclass."""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping


class BenchUsageError(ValueError):
    """Unknown method or dataset, or a bad ``--config`` key or value; the message lists the valid choices."""


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether a JSON/TOML ``value`` fits a config field annotated ``annotation``.

    Checks ``int``, ``float`` (an integer is accepted), ``bool``, ``str``, ``None`` and unions
    of them; any other annotation is accepted unchecked.
    """
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    return "null" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def check_overrides(method: str, config_cls: type, overrides: Mapping[str, Any]) -> None:
    """Check ``--config`` hyper-parameters against a method's config dataclass.

    Args:
        method: the method name, for the message.
        config_cls: the method's config dataclass.
        overrides: the parsed config file.

    Raises:
        BenchUsageError: an unknown key (the valid keys are listed) or a value of the wrong type.
    """
    hints = typing.get_type_hints(config_cls)
    known = {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise BenchUsageError(
            f"unknown {method} config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(sorted(known))}"
        )
    for key, value in overrides.items():
        if not _accepts(known[key], value):
            raise BenchUsageError(
                f"{method} config key {key!r} must be {_type_name(known[key])}, "
                f"got {type(value).__name__} {value!r}"
            )
