"""The training engine shared by every method (see :mod:`gcl.train.engine`)."""
from gcl.train.checkpoint import load_checkpoint, save_checkpoint
from gcl.train.device import resolve_device
from gcl.train.engine import TrainConfig, Trainer, TrainResult, check_finite
from gcl.train.errors import CheckpointError, NonFiniteLossError

__all__ = [
    "CheckpointError",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "check_finite",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
]
