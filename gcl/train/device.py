"""Device selection: ``cpu``, ``cuda`` (or ``cuda:N``), ``mps`` or ``auto``."""
from __future__ import annotations

import torch


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn a user's device string into a ``torch.device``.

    ``auto`` picks CUDA when available, else CPU. Asking for CUDA where none is available is
    an error (not a silent fallback), so a benchmark never reports CPU figures as GPU ones.
    """
    if isinstance(spec, torch.device):
        return spec
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ValueError(f"--device {spec!r} is not a device; use cpu, cuda, cuda:N or auto") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {spec!r}: CUDA is not available on this machine (use cpu or auto)")
    return device
