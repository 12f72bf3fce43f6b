"""Ctrl-C or SIGTERM during training: stop at the end of the step under way, with a checkpoint of it.

Without this, a signal stops a run wherever it lands, and a resume goes back to the last periodic
checkpoint: up to ``checkpoint.every_n_steps - 1`` steps lost on every Slurm pre-emption. The
checkpoint is written where the periodic ones are (after a whole step), so the resumed run still
ends where an uninterrupted one does. A second signal stops at once.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from vae_collapse.training import interrupts


class StopBetweenSteps(Callback):
    """``checkpoint``: the run's StepCheckpoint, or None for a run that keeps no checkpoints."""

    def __init__(self, checkpoint=None) -> None:
        self.checkpoint = checkpoint

    def on_train_start(self, trainer, pl_module) -> None:
        # With several processes each would stop at its own step and wait for the others to save.
        if trainer.world_size != 1:
            return
        # Lightning's SIGTERM handler, added around ours in fit(), would stop the loop at its own
        # point after the step, past this callback and without a checkpoint; its teardown puts
        # back the handler it found, which is ours.
        interrupts.install(forget=False)
        interrupts.defer(True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._stop_if_asked(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self._stop_if_asked(trainer)
        interrupts.defer(False)  # the final measurements are interrupted where a signal lands

    def on_exception(self, trainer, pl_module, exception) -> None:
        interrupts.defer(False)

    def _stop_if_asked(self, trainer) -> None:
        signal_name = interrupts.pending()
        if signal_name is None:
            return
        interrupts.defer(False)
        if self.checkpoint is not None:
            self.checkpoint.save_now(trainer)
        raise KeyboardInterrupt(signal_name)
