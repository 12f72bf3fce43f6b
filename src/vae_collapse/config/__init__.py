"""Building objects from Hydra configs, with validation and one-line errors."""

from vae_collapse.config.errors import ConfigError
from vae_collapse.config.instantiate import build, check_node, checked_call

__all__ = ["ConfigError", "build", "check_node", "checked_call"]
