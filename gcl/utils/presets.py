"""Configs built from named presets and per-dataset rows, with unknown keys refused by name."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping


def config_from_preset(cls: type, preset: str, overrides: Mapping[str, Any] | None = None,
                       dataset: str | None = None) -> Any:
    """``cls`` built from three layers, later ones winning:

    ``cls.PRESETS[p]``, then ``cls.DATASET_ROWS[p][dataset]`` (when the class has per-dataset
    rows and ``dataset`` is given; the name is matched lower-case with ``_`` read as ``-``), then
    ``overrides``, where ``p = overrides.get("preset", preset)``.

    Args:
        cls: a dataclass with a ``PRESETS`` mapping (preset name -> field values) and a
            ``preset`` field; optionally ``DATASET_ROWS`` (preset -> dataset -> field values).
        preset: the preset used when ``overrides`` names none.
        overrides: field values set last.
        dataset: the dataset whose row applies (``None``: no row).

    Raises:
        ValueError: an unknown key (listing the valid ones) or an unknown preset.
    """
    overrides = dict(overrides or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; valid keys: {sorted(known)}")
    preset = overrides.pop("preset", preset)
    if preset not in cls.PRESETS:
        raise ValueError(f"preset must be one of {sorted(cls.PRESETS)}, got {preset!r}")
    row: Mapping[str, Any] = {}
    if dataset is not None:
        row = getattr(cls, "DATASET_ROWS", {}).get(preset, {}).get(dataset.strip().lower().replace("_", "-"), {})
    return cls(**{**cls.PRESETS[preset], **row, **overrides, "preset": preset})


__all__ = ["config_from_preset"]
