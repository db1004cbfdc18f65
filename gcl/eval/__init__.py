"""Evaluation protocols and metrics (model selection on validation, test reported once)."""
from gcl.eval.probe import ProbeResult, linear_probe

__all__ = ["ProbeResult", "linear_probe"]
