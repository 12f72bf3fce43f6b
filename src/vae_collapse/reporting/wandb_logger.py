"""Lightning's WandbLogger, made safe for machines without a key or a network."""

from __future__ import annotations

import os
from typing import Any, Literal

from lightning.pytorch.loggers import WandbLogger

from vae_collapse.reporting.wandb_modes import WANDB_MODES



def _wandb_host() -> str:
    """The W&B server: WANDB_BASE_URL, else the one `wandb login --host` saved, else W&B's cloud."""
    import configparser
    from urllib.parse import urlparse

    url = os.environ.get("WANDB_BASE_URL")
    if not url:
        folder = os.environ.get("WANDB_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".config", "wandb")
        saved = configparser.ConfigParser()
        try:
            saved.read(os.path.join(folder, "settings"))
            url = saved.get("default", "base_url", fallback=None)
        except configparser.Error:
            url = None
    return urlparse(url or "https://api.wandb.ai").hostname or "api.wandb.ai"


def has_wandb_key() -> bool:
    """Whether ``wandb.init`` would find credentials without asking for them at a prompt.

    WANDB_API_KEY, an identity token file, or an entry for the W&B host in the netrc file that
    ``wandb login`` writes to (NETRC, ~/.netrc or ~/_netrc). A netrc with only other hosts, e.g.
    GitHub's, does not count.
    """
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    import netrc

    host = _wandb_host()
    candidates = [os.environ["NETRC"]] if os.environ.get("NETRC") else ["~/.netrc", "~/_netrc"]
    for candidate in candidates:
        try:
            if netrc.netrc(os.path.expanduser(candidate)).authenticators(host) is not None:
                return True
        except (OSError, netrc.NetrcParseError):
            continue
    return False


class RunWandbLogger(WandbLogger):
    """WandbLogger with an explicit, validated ``mode`` (offline by default).

    Online mode without a key would make ``wandb.init`` wait at a login prompt, so it is
    refused up front. Lightning 2.6 still passes ``anonymous``, which wandb 0.31 warns
    about on every run; it has no effect, so it is dropped.
    """

    def __init__(self, mode: Literal["offline", "online", "disabled"] = "offline", save_dir: str = ".",
                 quiet: bool = True, **kwargs: Any) -> None:
        if mode not in WANDB_MODES:
            raise ValueError(f"mode={mode!r} must be one of {', '.join(WANDB_MODES)}")
        if mode == "online" and not has_wandb_key():
            raise ValueError("mode=online needs WANDB_API_KEY or `wandb login`; use offline and `wandb sync` later")
        os.makedirs(save_dir, exist_ok=True)
        if "settings" not in kwargs:
            import wandb

            # quiet drops wandb's per-run history and summary block (about 30 lines a run, the same
            # numbers as the result table) and keeps the line that says where the run was saved.
            kwargs["settings"] = wandb.Settings(quiet=quiet)
        super().__init__(save_dir=save_dir, mode=mode, **kwargs)
        self._wandb_init.pop("anonymous", None)

    @staticmethod
    def kwargs_passed_to() -> tuple:
        """Where ``**kwargs`` go: the config check accepts their keys and types, and no others."""
        import wandb

        return (WandbLogger.__init__, wandb.init)

    @property
    def experiment(self):
        """The W&B run, started on first use; W&B's own failures (no network, a key it refuses)
        become one line instead of a page of traceback from inside the training loop."""
        try:
            return super().experiment
        except Exception as exc:
            if not type(exc).__module__.startswith("wandb"):
                raise
            from vae_collapse.config import ConfigError

            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"logger.wandb: W&B could not start the run ({type(exc).__name__}: {first[:200]}); "
                              "run offline (logger.wandb.mode=offline) and `wandb sync` the run later") from None
