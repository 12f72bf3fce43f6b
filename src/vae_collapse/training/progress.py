"""Progress over optimiser steps, not epochs.

Full-batch training has one batch per epoch, so Lightning's per-epoch bar would redraw
thousands of times; this one shows the whole run with the current ELBO and sigma^2.

Jobs of a sweep that run side by side (joblib, submitit) share one terminal or write to log
files, where bars that redraw one line would overwrite each other; there each job prints a
whole line at every tenth of its run instead, named by its job (its folder in the sweep).

The module logs its ELBO and sigma^2 only on the steps the loggers write (every
``log_every_n_steps``, and the last step): a line printed between those says which step its
values are from, e.g. "step 60/100 (60%), elbo=-68.34, sigma2=0.1 (at step 49)", step 49 being
the 50th step (the step metrics.csv logs them at). The bar moves on those steps only, so the
values beside it are always those of the last step it counts.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from lightning.pytorch.callbacks import ProgressBar

from vae_collapse.reporting.console import say
from vae_collapse.training import interrupts

# Hydra's launcher that runs a sweep's jobs one after another, in this process.
SEQUENTIAL_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def parallel_job() -> str | None:
    """This job's name (its folder in the sweep) where it is one of a sweep's jobs that run side by
    side, else None."""
    from hydra.core.hydra_config import HydraConfig

    from vae_collapse.training.sweep_jobs import current_job

    job = current_job()
    launcher = str(HydraConfig.get().launcher.get("_target_") or "")
    if job is None or launcher == SEQUENTIAL_LAUNCHER:
        return None
    # hydra/launcher=joblib with n_jobs=1 runs its jobs one after another in the sweep's own process.
    if launcher.endswith(".StoppableJoblibLauncher") and not interrupts.in_pool_worker():
        return None
    return job


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def planned_steps(trainer) -> int | None:
    """The steps the run will take: trainer.max_steps, or max_epochs x batches an epoch, whichever
    ends it first; None for a run without either limit."""
    steps = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
    epochs, batches = getattr(trainer, "max_epochs", None), getattr(trainer, "num_training_batches", None)
    if epochs is not None and epochs > 0 and isinstance(batches, int):
        steps = epochs * batches if steps is None else min(steps, epochs * batches)
    return steps


class StepProgressBar(ProgressBar):
    """A tqdm bar, or with ``job`` set, one line per tenth of the run: "job seed=3: step 800/8,000 ..."."""

    def __init__(self, job: str | None = None) -> None:
        super().__init__()
        self.job = job
        self._bar = None
        self._lines_done = 0
        self._enabled = True
        self._values_at: int | None = None  # the step the shown ELBO and sigma^2 were logged at
        self._total: int | None = None  # the run's steps, where it has a limit

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
        self._values_at = None
        self._total = planned_steps(trainer)
        if self.job is not None:
            total = self._total or 0
            self._lines_done = 10 * trainer.global_step // total if total else 0  # a resumed run goes on
            self._started = (time.monotonic(), trainer.global_step)
            return
        from tqdm.auto import tqdm

        total = self._total
        # A resumed run starts at its checkpoint's step: count from there, so the rate is this run's.
        self._bar = tqdm(total=total, initial=trainer.global_step, desc="train", unit="step", dynamic_ncols=True,
                         file=sys.stderr, mininterval=1.0 if sys.stderr.isatty() else 30.0)

    def _logged_now(self, trainer) -> bool:
        """Whether the batch that just ended logged the ELBO and sigma^2 (see VAEModule._log_this_step).

        The module logs on the steps the loggers write: Lightning's count of batches that stepped,
        not yet advanced here, + 1 a multiple of ``log_every_n_steps``, and on the last step.
        """
        step = trainer.global_step  # steps done, this one included
        stepped = getattr(getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None), "_batches_that_stepped",
                          step - 1)
        every = max(1, int(getattr(trainer, "log_every_n_steps", 1) or 1))
        if (stepped + 1) % every == 0 or (trainer.max_steps and 0 < trainer.max_steps <= step):
            self._values_at = step - 1  # the step just done, as metrics.csv numbers it
            return True
        return False

    def _values(self, trainer, step: int) -> str:
        metrics = trainer.progress_bar_metrics
        values = "".join(f", {k}={float(v):.4g}" for k, v in metrics.items() if k in ("elbo", "sigma2"))
        if values and self._values_at is not None and self._values_at != step - 1:
            values += f" (at step {self._values_at:,})"  # logged some steps ago, not by the step just done
        return values

    def _line(self, trainer) -> None:
        """One whole line at each tenth of the run (needs its length; an unlimited run has none)."""
        total, step = self._total, trainer.global_step
        if not self._enabled or trainer.global_rank != 0 or not total or total <= 0:
            return
        tenth = 10 * step // total
        if tenth <= self._lines_done:
            return
        self._lines_done = tenth
        values = self._values(trainer, step)
        began, first = self._started
        elapsed = time.monotonic() - began
        left = elapsed / max(step - first, 1) * (total - step)
        timing = f"{_duration(elapsed)} so far" + (f", about {_duration(left)} left" if step < total else "")
        say(f"vae-collapse: job {self.job}: step {step:,}/{total:,} ({100 * step // total}%){values}; {timing}", err=True)

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self._enabled or trainer.global_rank != 0:
            return
        logged = self._logged_now(trainer)
        if self.job is not None:
            self._line(trainer)
            return
        if self._bar is None:
            return
        step = trainer.global_step
        if logged:  # the bar moves only with its values, so they are always those of its last step
            metrics = trainer.progress_bar_metrics
            postfix = {k: f"{float(v):.4g}" for k, v in metrics.items() if k in ("elbo", "sigma2")}
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(step - self._bar.n)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._bar is not None:  # a run that ends on max_epochs logs its last step too
            postfix = {k: f"{float(v):.4g}" for k, v in trainer.progress_bar_metrics.items() if k in ("elbo", "sigma2")}
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(trainer.global_step - self._bar.n)
        self._close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._close()  # interrupted or diverged: the next job of a sweep in this process starts a clean line

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
