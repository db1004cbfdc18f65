"""One module per method: encoder + views + losses with the paper's defaults in a config."""
from gcl.methods.adameow import AdaMEOW, AdaMEOWConfig
from gcl.methods.grace import GRACE, GRACEConfig
from gcl.methods.lightgcl import LightGCL, LightGCLConfig
from gcl.methods.lightgcn import LightGCN, LightGCNConfig
from gcl.methods.meow import MEOW, MEOWConfig
from gcl.methods.pamc import PamC, PamCConfig
from gcl.methods.sgl import SGL, SGLConfig
from gcl.methods.sasrec import SASRec, SASRecConfig
from gcl.methods.cl4srec import CL4SRec, CL4SRecConfig
from gcl.methods.mclrec import MCLRec, MCLRecConfig

__all__ = ["AdaMEOW", "AdaMEOWConfig", "MEOW", "MEOWConfig", "GRACE", "GRACEConfig", "LightGCL", "LightGCLConfig", "LightGCN", "LightGCNConfig", "PamC",
           "PamCConfig", "SGL",
           "SGLConfig", "SASRec", "SASRecConfig", "CL4SRec", "CL4SRecConfig", "MCLRec", "MCLRecConfig"]

from gcl.methods.graphcl import GraphCL, GraphCLConfig  # noqa: E402
from gcl.methods.dsla import DSLA, DSLAConfig  # noqa: E402

__all__ += ["GraphCL", "GraphCLConfig", "DSLA", "DSLAConfig"]
