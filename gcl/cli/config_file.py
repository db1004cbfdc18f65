"""Reading ``--config`` files: JSON (``.json``) or TOML (``.toml``) holding a flat table of
method hyper-parameters, e.g. ``{"tau": 0.5, "hidden": 256}``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ConfigFileError(ValueError):
    """The config file is missing, unparsable or not a flat table."""


def read_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigFileError(f"{path}: config file not found")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise ConfigFileError(f"{path}: cannot parse config ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a table of hyper-parameters, got {type(data).__name__}")
    return data
