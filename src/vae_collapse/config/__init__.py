"""Building objects from Hydra configs, with validation and one-line errors."""

from vae_collapse.config.errors import ConfigError

__all__ = ["ConfigError", "build", "check_node", "checked_call"]


def __getattr__(name: str):
    # The builders import torch (a second); the console script needs only ConfigError before it
    # knows that a command composes, so a mistyped key is answered without that wait.
    if name in ("build", "check_node", "checked_call"):
        from vae_collapse.config import instantiate

        return getattr(instantiate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
