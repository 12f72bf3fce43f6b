"""Lightning's WandbLogger, made safe for machines without a key or a network."""

from __future__ import annotations

import os
from typing import Any, Literal

from lightning.pytorch.loggers import WandbLogger

WANDB_MODES = ("offline", "online", "disabled")


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
        has_key = os.environ.get("WANDB_API_KEY") or os.path.exists(os.path.expanduser("~/.netrc"))
        if mode == "online" and not has_key:
            raise ValueError("mode=online needs WANDB_API_KEY or `wandb login`; use offline and `wandb sync` later")
        os.makedirs(save_dir, exist_ok=True)
        if "settings" not in kwargs:
            import wandb

            # quiet drops wandb's per-run history and summary block (about 30 lines a run, the same
            # numbers as the result table) and keeps the line that says where the run was saved.
            kwargs["settings"] = wandb.Settings(quiet=quiet)
        super().__init__(save_dir=save_dir, mode=mode, **kwargs)
        self._wandb_init.pop("anonymous", None)
