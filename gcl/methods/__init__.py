"""One module per method: encoder + views + losses with the paper's defaults in a config."""
from gcl.methods.grace import GRACE, GRACEConfig

__all__ = ["GRACE", "GRACEConfig"]
