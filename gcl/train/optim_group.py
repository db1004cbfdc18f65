"""Several named optimizers handled as one by the training engine (checkpoints, resume).

Methods with alternating updates (MCLRec: ``theta`` for the encoder, ``phi`` for the
augmenters) own one optimizer per parameter set; :class:`OptimizerGroup` gives the engine the
``state_dict`` / ``load_state_dict`` / ``zero_grad`` of a single optimizer, so every state is
checkpointed and restored together.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

import torch


class OptimizerGroup(Mapping[str, torch.optim.Optimizer]):
    """A read-only mapping ``name -> optimizer`` with optimizer-like state handling.

    Args:
        optimizers: the named optimizers (at least one); their parameter sets must be disjoint.

    Raises:
        ValueError: no optimizer, or a parameter shared by two of them.
    """

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer]):
        if not optimizers:
            raise ValueError("an OptimizerGroup needs at least one optimizer")
        self._optimizers = dict(optimizers)
        seen: dict[int, str] = {}
        for name, opt in self._optimizers.items():
            for group in opt.param_groups:
                for p in group["params"]:
                    if id(p) in seen:
                        raise ValueError(f"a parameter is in both optimizers {seen[id(p)]!r} and {name!r}")
                    seen[id(p)] = name

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self._optimizers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._optimizers)

    def __len__(self) -> int:
        return len(self._optimizers)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self._optimizers.values():
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """``{name: optimizer.state_dict()}``."""
        return {name: opt.state_dict() for name, opt in self._optimizers.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict`.

        Raises:
            ValueError: the names in ``state`` differ from this group's.
        """
        if set(state) != set(self._optimizers):
            raise ValueError(f"optimizer state holds {sorted(state)}, expected {sorted(self._optimizers)}")
        for name, opt in self._optimizers.items():
            opt.load_state_dict(state[name])

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={type(v).__name__}" for k, v in self._optimizers.items())
        return f"OptimizerGroup({inner})"


__all__ = ["OptimizerGroup"]
