"""Temperature of a contrastive loss, fixed or learnable (log-parametrised)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def check_tau(tau: float | Tensor, name: str = "tau") -> None:
    """Raise ``ValueError`` for a non-positive float or a non-scalar tensor temperature.

    A tensor temperature is not compared with 0 (that would synchronise with the device);
    learnable temperatures are ``exp`` of a parameter and hence positive.
    """
    if isinstance(tau, Tensor):
        if tau.numel() != 1:
            raise ValueError(f"temperature {name} must be a scalar, got shape {tuple(tau.shape)}")
    elif not tau > 0:
        raise ValueError(f"temperature {name} must be > 0, got {tau}")


class Temperature(nn.Module):
    """A temperature ``tau``, either a fixed float or ``exp(log_tau)`` with a learnable ``log_tau``.

    The log parametrisation keeps ``tau > 0`` under any gradient step. Optional bounds clamp
    ``log_tau`` (the gradient is zero while a bound is active).

    Args:
        init: starting value, > 0.
        learnable: make ``log_tau`` an ``nn.Parameter``.
        min, max: optional bounds on tau (learnable case).

    Calling the module returns the float ``init`` when fixed (so fixed-temperature losses see
    exactly the number they were given) and a 0-dim tensor when learnable.
    """

    def __init__(self, init: float = 0.5, *, learnable: bool = False, min: float | None = None,
                 max: float | None = None):
        super().__init__()
        check_tau(init, "init")
        for label, bound in (("min", min), ("max", max)):
            if bound is not None and not bound > 0:
                raise ValueError(f"temperature bound {label} must be > 0, got {bound}")
        if min is not None and max is not None and min > max:
            raise ValueError(f"temperature bounds need min <= max, got min={min}, max={max}")
        self.init, self.learnable = float(init), bool(learnable)
        self._log_min = None if min is None else math.log(min)
        self._log_max = None if max is None else math.log(max)
        if learnable:
            self.log_tau = nn.Parameter(torch.tensor(math.log(init)))

    def forward(self) -> float | Tensor:
        if not self.learnable:
            return self.init
        log_tau = self.log_tau
        if self._log_min is not None or self._log_max is not None:
            log_tau = log_tau.clamp(self._log_min, self._log_max)
        return log_tau.exp()

    @property
    def value(self) -> float:
        """The current temperature as a Python float."""
        tau = self()
        return float(tau.detach()) if isinstance(tau, Tensor) else tau

    def extra_repr(self) -> str:
        return f"tau={self.value:.4g}, learnable={self.learnable}"
