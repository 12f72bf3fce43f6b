"""Ctrl-C or SIGTERM during training: stop once the step under way is done, with a checkpoint of it.

Without this, a signal stops a run wherever it lands, and a resume goes back to the last periodic
checkpoint: up to ``checkpoint.every_n_steps - 1`` steps lost on every Slurm pre-emption. The
checkpoint is written where the periodic ones are (in ``on_train_batch_end``), so the resumed run
still ends where an uninterrupted one does. The run stops at the next hook after that, once
Lightning has also logged the step, so the logged curve has no hole where it stopped. A second
signal stops at once.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from vae_collapse.training import interrupts


class StopBetweenSteps(Callback):
    """``checkpoint``: the run's StepCheckpoint, or None for a run that keeps no checkpoints."""

    def __init__(self, checkpoint=None) -> None:
        self.checkpoint = checkpoint
        self._stopping: str | None = None  # the signal, once the step it arrived in is saved

    def on_train_start(self, trainer, pl_module) -> None:
        self._stopping = None
        # With several processes each would stop at its own step and wait for the others to save.
        if trainer.world_size != 1:
            return
        # Lightning's SIGTERM handler, added around ours in fit(), would stop the loop at its own
        # point, without a checkpoint of the step; its teardown puts back the handler it found,
        # which is ours.
        interrupts.install(forget=False)
        interrupts.defer(True, checkpointing=self.checkpoint is not None)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._save_if_asked(trainer)

    # The first hooks after Lightning logged the step: the next batch, an epoch's end, validation.
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._stop_if_saved()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._stop_if_saved()

    def on_validation_start(self, trainer, pl_module) -> None:
        self._stop_if_saved()

    def on_train_end(self, trainer, pl_module) -> None:
        self._save_if_asked(trainer)  # a signal after the last step's end
        interrupts.defer(False)  # the final measurements are interrupted where a signal lands
        self._stop_if_saved()

    def on_exception(self, trainer, pl_module, exception) -> None:
        interrupts.defer(False)

    def _save_if_asked(self, trainer) -> None:
        signal_name = interrupts.pending()
        if signal_name is None or self._stopping is not None:
            return
        if self.checkpoint is not None:
            self.checkpoint.save_now(trainer)
        self._stopping = signal_name

    def _stop_if_saved(self) -> None:
        if self._stopping is not None:
            interrupts.defer(False)
            raise KeyboardInterrupt(self._stopping)
