"""One module per method: encoder + views + losses with the paper's defaults in a config."""
from gcl.methods.adameow import AdaMEOW, AdaMEOWConfig
from gcl.methods.grace import GRACE, GRACEConfig
from gcl.methods.lightgcl import LightGCL, LightGCLConfig
from gcl.methods.lightgcn import LightGCN, LightGCNConfig
from gcl.methods.meow import MEOW, MEOWConfig
from gcl.methods.pamc import PamC, PamCConfig
from gcl.methods.sgl import SGL, SGLConfig

__all__ = ["AdaMEOW", "AdaMEOWConfig", "MEOW", "MEOWConfig", "GRACE", "GRACEConfig", "LightGCL", "LightGCLConfig", "LightGCN", "LightGCNConfig", "PamC",
           "PamCConfig", "SGL",
           "SGLConfig"]
