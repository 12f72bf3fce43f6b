"""A progress bar over optimiser steps, not epochs.

Full-batch training has one batch per epoch, so Lightning's per-epoch bar would redraw
thousands of times; this one shows the whole run with the current ELBO and sigma^2.
"""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch.callbacks import ProgressBar


class StepProgressBar(ProgressBar):
    def __init__(self, refresh_every: int | None = None) -> None:
        super().__init__()
        self.refresh_every = refresh_every
        self._bar = None
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def on_train_start(self, trainer, pl_module) -> None:
        if not self._enabled or trainer.global_rank != 0:
            return
        from tqdm.auto import tqdm

        # The module logs on the steps the loggers write, so refresh on those (see VAEModule).
        self._every = self.refresh_every or max(1, trainer.log_every_n_steps)
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        # A resumed run starts at its checkpoint's step: count from there, so the rate is this run's.
        self._bar = tqdm(total=total, initial=trainer.global_step, desc="train", unit="step", dynamic_ncols=True,
                         file=sys.stderr, mininterval=1.0 if sys.stderr.isatty() else 30.0)

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._bar is None:
            return
        step = trainer.global_step
        if step % self._every == 0 or step == trainer.max_steps:
            metrics = trainer.progress_bar_metrics
            postfix = {k: f"{float(v):.4g}" for k, v in metrics.items() if k in ("elbo", "sigma2")}
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(step - self._bar.n)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._bar is not None:
            self._bar.update(trainer.global_step - self._bar.n)
            self._bar.close()
            self._bar = None
