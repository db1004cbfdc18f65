"""View generators (augmentations): a functional core plus small callable classes."""
from gcl.views.functional import drop_edge, mask_feature

__all__ = ["drop_edge", "mask_feature"]
