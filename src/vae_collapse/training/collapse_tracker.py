"""Collapse measured during training, so warm-ups (KL annealing, sigma^2 schedules) can be followed."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch

from vae_collapse.maths.collapse import count_active_dims
from vae_collapse.maths.identifiability import identifiability
from vae_collapse.reporting.artifacts import write_csv_atomic
from vae_collapse.reporting.media import log_media
from vae_collapse.training.evaluate import evaluate
from vae_collapse.training.rng import measurement_rng


ALIGNMENT_FILE = "alignment_trajectory.csv"
ALIGNMENT_HEADER = ["step", "used_columns", "aligned_columns", "column_alignment", "gram_off_diagonal"]


class CollapseTracker(pl.Callback):
    """Every ``every_n_steps`` steps: active dimensions and mean KL per dimension on a fixed set.

    Logged as ``track/active_dims`` and ``track/kl`` (total KL) at the training step: not
    ``collapse/*``, which is the final measurement on the whole split. Written to
    ``collapse_trajectory.csv`` (step, beta, sigma2, active_dims, kl_dim_0 ... kl_dim_{k-1}),
    which W&B gets as the table ``track/trajectory`` when training ends. A run that is
    interrupted or diverges writes the rows it has; a resumed run continues its checkpoint's.

    Given the training data's principal ``directions`` (a linear decoder's run), it also follows
    how W turns onto them: ``track/aligned_columns``, and ``alignment_trajectory.csv`` (step,
    used_columns, aligned_columns, column_alignment, gram_off_diagonal; W&B table
    ``track/alignment``). The ELBO's value comes long before that rotation; this says when.
    """

    def __init__(self, every_n_steps: int, eps: float, delta: float, num_examples: int, path: Path,
                 directions: torch.Tensor | None = None) -> None:
        super().__init__()
        self.every_n_steps = every_n_steps
        self.eps, self.delta = eps, delta
        self.num_examples = num_examples
        self.path = path
        self.directions = directions
        self.rows: list[list[float]] = []
        self.alignment_rows: list[list[float]] = []

    def _examples(self, trainer) -> torch.Tensor:
        datamodule = trainer.datamodule
        data = datamodule.val_data if datamodule.has_val else datamodule.train_data
        return data[: self.num_examples]

    def _measure(self, trainer, pl_module) -> None:
        step = trainer.global_step
        model = pl_module.model
        x = self._examples(trainer).to(pl_module.device)
        with measurement_rng(pl_module.device):
            result = evaluate(model, [x], "track", step)
        kl_dim = result.kl_per_dim.double().mean(0)
        active = count_active_dims(result.kl_per_dim, self.eps, self.delta)
        beta = model.noise.beta(step)
        values = {"track/active_dims": float(active), "track/kl": float(kl_dim.sum())}
        if self.directions is not None:
            found = identifiability(model.decoder.W, self.directions)
            values["track/aligned_columns"] = float(found.aligned_columns)
            self.alignment_rows.append([step, found.used_columns, found.aligned_columns, found.min_alignment,
                                        found.gram_off_diagonal])
        # Straight to the loggers: Lightning hands logged values over only every log_every_n_steps
        # steps, and would drop the measurements in between. The step is the one this batch's
        # train/* metrics are logged at (Lightning's count of batches that stepped).
        logged_at = getattr(trainer.fit_loop.epoch_loop, "_batches_that_stepped", step - 1)
        for logger in trainer.loggers:
            logger.log_metrics(values, step=logged_at)
        self.rows.append([step, beta, result.metrics["track/sigma2"], active, *kl_dim.tolist()])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0 and trainer.is_global_zero:
            self._measure(trainer, pl_module)

    # The rows travel in every checkpoint, so a resumed run's trajectory still starts at step 0.
    def state_dict(self) -> dict:
        return {"rows": [list(row) for row in self.rows], "alignment_rows": [list(row) for row in self.alignment_rows]}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = [list(row) for row in state_dict.get("rows", [])]
        self.alignment_rows = [list(row) for row in state_dict.get("alignment_rows", [])]

    def _write(self, trainer) -> list[str] | None:
        if not self.rows or not trainer.is_global_zero:
            return None
        k = len(self.rows[0]) - 4
        header = ["step", "beta", "sigma2", "active_dims", *[f"kl_dim_{i}" for i in range(k)]]
        write_csv_atomic(self.path, header, self.rows)
        if self.alignment_rows:
            write_csv_atomic(self.path.with_name(ALIGNMENT_FILE), ALIGNMENT_HEADER, self.alignment_rows)
        return header

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._write(trainer)  # an interrupted or diverged run keeps what it measured

    def on_train_end(self, trainer, pl_module) -> None:
        header = self._write(trainer)
        if header is not None:  # W&B gets the whole trajectory as a table too (a no-op without W&B)
            tables = {"track/trajectory": (header, self.rows)}
            if self.alignment_rows:
                tables["track/alignment"] = (ALIGNMENT_HEADER, self.alignment_rows)
            log_media(trainer.loggers, tables=tables, step=trainer.global_step)
