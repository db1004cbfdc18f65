"""The training engine shared by every method (see :mod:`gcl.train.engine`)."""
from gcl.train.checkpoint import load_checkpoint, save_checkpoint
from gcl.train.device import resolve_device
from gcl.train.engine import TrainConfig, Trainer, TrainResult
from gcl.train.errors import CheckpointError, NonFiniteLossError, NonFiniteStateError
from gcl.train.finite import check_finite
from gcl.train.steps import record_step

__all__ = [
    "CheckpointError",
    "NonFiniteLossError",
    "NonFiniteStateError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "check_finite",
    "load_checkpoint",
    "record_step",
    "resolve_device",
    "save_checkpoint",
]
