"""config_from_preset: preset, then dataset row, then overrides; unknown keys and presets refused."""
from dataclasses import dataclass
from typing import ClassVar

import pytest

from gcl.utils import config_from_preset


@dataclass
class _Cfg:
    lr: float = 1.0
    epochs: int = 10
    preset: str = "full"
    PRESETS: ClassVar[dict] = {"full": {}, "small": {"epochs": 2}}
    DATASET_ROWS: ClassVar[dict] = {"full": {"ml-1m": {"lr": 0.5}}, "small": {"ml-1m": {"lr": 0.25, "epochs": 3}}}


def test_layers_apply_in_order():
    assert config_from_preset(_Cfg, "full") == _Cfg()
    assert config_from_preset(_Cfg, "full", dataset="ML_1M") == _Cfg(lr=0.5)
    assert config_from_preset(_Cfg, "full", {"preset": "small"}, dataset="ml-1m") == _Cfg(0.25, 3, "small")
    assert config_from_preset(_Cfg, "small", {"epochs": 7}, dataset="ml-1m") == _Cfg(0.25, 7, "small")
    assert config_from_preset(_Cfg, "small", dataset="other") == _Cfg(epochs=2, preset="small")


def test_unknown_key_and_preset_are_named():
    with pytest.raises(ValueError, match=r"unknown _Cfg keys \['lrr'\]; valid keys: \['epochs', 'lr', 'preset'\]"):
        config_from_preset(_Cfg, "full", {"lrr": 1})
    with pytest.raises(ValueError, match="preset must be one of \\['full', 'small'\\], got 'huge'"):
        config_from_preset(_Cfg, "full", {"preset": "huge"})
