"""Progress over optimiser steps, not epochs.

Full-batch training has one batch per epoch, so Lightning's per-epoch bar would redraw
thousands of times; this one shows the whole run with the current ELBO and sigma^2.

Jobs of a sweep that run side by side (joblib, submitit) share one terminal or write to log
files, where bars that redraw one line would overwrite each other; there each job prints a
whole line at every tenth of its run instead, named by its job number.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from lightning.pytorch.callbacks import ProgressBar

from vae_collapse.reporting.console import say

# Hydra's launcher that runs a sweep's jobs one after another, in this process.
SEQUENTIAL_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def parallel_job_number() -> int | None:
    """This job's number where it is one of a sweep's jobs that run side by side, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        hydra_cfg = HydraConfig.get()
    except ValueError:
        return None
    if hydra_cfg.mode != RunMode.MULTIRUN or hydra_cfg.launcher.get("_target_") == SEQUENTIAL_LAUNCHER:
        return None
    return int(hydra_cfg.job.num)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class StepProgressBar(ProgressBar):
    """A tqdm bar, or with ``job`` set, one line per tenth of the run: "job 3: step 800/8,000 ..."."""

    def __init__(self, job: int | None = None) -> None:
        super().__init__()
        self.job = job
        self._bar = None
        self._lines_done = 0
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
        if self.job is not None:
            total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else 0
            self._lines_done = 10 * trainer.global_step // total if total else 0  # a resumed run goes on
            self._started = (time.monotonic(), trainer.global_step)
            return
        from tqdm.auto import tqdm

        # The module logs on the steps the loggers write, so refresh on those (see VAEModule).
        self._every = max(1, trainer.log_every_n_steps)
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        # A resumed run starts at its checkpoint's step: count from there, so the rate is this run's.
        self._bar = tqdm(total=total, initial=trainer.global_step, desc="train", unit="step", dynamic_ncols=True,
                         file=sys.stderr, mininterval=1.0 if sys.stderr.isatty() else 30.0)

    def _line(self, trainer) -> None:
        """One whole line at each tenth of the run (needs max_steps; without it, none)."""
        total, step = trainer.max_steps, trainer.global_step
        if not self._enabled or trainer.global_rank != 0 or not total or total <= 0:
            return
        tenth = 10 * step // total
        if tenth <= self._lines_done:
            return
        self._lines_done = tenth
        metrics = trainer.progress_bar_metrics
        values = "".join(f", {k}={float(v):.4g}" for k, v in metrics.items() if k in ("elbo", "sigma2"))
        began, first = self._started
        elapsed = time.monotonic() - began
        left = elapsed / max(step - first, 1) * (total - step)
        timing = f"{_duration(elapsed)} so far" + (f", about {_duration(left)} left" if step < total else "")
        say(f"vae-collapse: job {self.job}: step {step:,}/{total:,} ({100 * step // total}%){values}; {timing}", err=True)

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.job is not None:
            self._line(trainer)
            return
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
        self._close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._close()  # interrupted or diverged: the next job of a sweep in this process starts a clean line

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
