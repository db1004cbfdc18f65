"""Small helpers shared across the library."""
from gcl.utils.atomic import atomic_directory, atomic_write
from gcl.utils.presets import config_from_preset
from gcl.utils.seed import seed_everything

__all__ = ["atomic_directory", "atomic_write", "config_from_preset", "seed_everything"]
