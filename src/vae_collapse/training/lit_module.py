"""The one LightningModule shared by every VAE (linear, MLP, convolutional)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import lightning.pytorch as pl
import torch

from vae_collapse.config.errors import ConfigError
from vae_collapse.data.datamodule import InMemoryDataModule
from vae_collapse.maths.moments import DataMoments, data_moments
from vae_collapse.models.vae import GaussianVAE
from vae_collapse.training.rng import measurement_rng
from vae_collapse.training.step_result import StepResult

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


LAST_LR_KEY = "vae_collapse_last_lr"


class VAEModule(pl.LightningModule):
    """Trains any :class:`GaussianVAE` by maximising its ELBO.

    The model holds the maths; this class only wires steps, logging and optimisers,
    so that every model reports the same metric names.
    """

    def __init__(
        self,
        model: GaussianVAE,
        optimizer: OptimizerFactory,
        lr_scheduler: SchedulerFactory | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler
        self.train_moments: DataMoments | None = None
        self._validation_rng = contextlib.ExitStack()
        self.precomputed_moments: DataMoments | None = None  # of datamodule.train_data, where the caller has them
        # The learning rate of the latest training step, saved with checkpoints: a run resumed at its
        # last step takes no step, so train/lr would otherwise be missing from its summary.
        self.last_lr: float | None = None
        # A closed-form optimiser (optimizer=em) updates the weights itself: no backward pass.
        self.closed_form_steps = not getattr(getattr(optimizer, "func", optimizer), "needs_gradients", True)
        self.automatic_optimization = not self.closed_form_steps
        if self.closed_form_steps and lr_scheduler is not None:
            raise ConfigError("lr_scheduler: optimizer=em takes no learning rate; drop the schedule with ~lr_scheduler")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[LAST_LR_KEY] = self.last_lr

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.last_lr = checkpoint.get(LAST_LR_KEY)

    def forward(self, x: torch.Tensor):
        return self.model(x, step=self.global_step)

    def on_fit_start(self) -> None:
        """Switch to the O(n^2 k) moments path when it gives exactly the same full-batch ELBO."""
        datamodule = getattr(self.trainer, "datamodule", None)
        self.train_moments = None
        if isinstance(datamodule, InMemoryDataModule):
            datamodule.hold_on(self.device)  # batches are then slices on the device, never copies to it
        if getattr(self.model, "supports_moments", False) and getattr(datamodule, "is_full_batch", False):
            moments = self.precomputed_moments or data_moments(datamodule.train_data)
            dtype = next(self.model.parameters()).dtype
            self.train_moments = DataMoments(
                mean=moments.mean.to(self.device, dtype), cov=moments.cov.to(self.device, dtype),
                num_examples=moments.num_examples,
            )
        if self.closed_form_steps:
            try:
                for optimizer in self.trainer.optimizers:
                    optimizer.attach(self.model, self.train_moments)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None

    def check_data(self, datamodule) -> None:
        """Before any file is written: a closed-form optimiser needs a model and data it can solve."""
        if self.closed_form_steps:
            from vae_collapse.training.em_optimizer import REQUIREMENTS, VariationalEM

            if not VariationalEM.can_solve(self.model, bool(getattr(datamodule, "is_full_batch", False))):
                raise ConfigError(REQUIREMENTS)

    def on_fit_end(self) -> None:
        """Lightning hands the model back on the CPU after fit; the data goes back with it."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if isinstance(datamodule, InMemoryDataModule):
            datamodule.hold_on("cpu")

    def _step(self, x: torch.Tensor) -> StepResult:
        step = self.global_step
        return StepResult.from_terms(self.model(x, step=step), beta=self.model.noise.beta(step))

    def _train_step(self, x: torch.Tensor) -> StepResult:
        if self.train_moments is None:
            result = self._step(x)
        else:
            step = self.global_step
            recon, kl, sigma2 = self.model.elbo_from_moments(self.train_moments, step=step)
            result = StepResult.from_averages(recon, kl, sigma2, beta=self.model.noise.beta(step))
        # Every step, so a diverged run stops before the optimiser applies the bad step.
        if not torch.isfinite(result.loss):
            raise FloatingPointError(f"non-finite loss {float(result.loss.detach())} at step {self.global_step}")
        return result

    def _log_this_step(self) -> bool:
        """Whether this step's metrics are logged: on the steps the loggers write, and on the last one.

        Lightning hands metrics to the loggers only every ``log_every_n_steps`` steps; logging the
        others costs about 1 ms per value on CPU for numbers nobody reads (figure 1 of the
        benchmarks), so only the last step of a run, whose values end in ``callback_metrics``
        and summary.json, is added.
        """
        trainer = self.trainer
        # Lightning's own rule (LoggerConnector.should_update_logs) counts the batches that stepped;
        # the same count as global_step here (checkpoints.LoggingStepOfResumedRun keeps a resumed
        # run's so), read from the loop so that the two rules can never disagree.
        stepped = getattr(trainer.fit_loop.epoch_loop, "_batches_that_stepped", self.global_step)
        if (stepped + 1) % max(1, trainer.log_every_n_steps) == 0:
            return True
        done = self.global_step + 1
        if trainer.max_steps is not None and 0 < trainer.max_steps <= done:
            return True
        max_epochs = trainer.max_epochs
        return bool(trainer.is_last_batch and max_epochs is not None and 0 < max_epochs <= trainer.current_epoch + 1)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        if self.closed_form_steps:
            return self._closed_form_step(batch)
        result = self._train_step(batch)
        self.last_lr = float(self.optimizers().param_groups[0]["lr"])
        if not self._log_this_step():
            return result.loss
        metrics = result.metrics("train")
        metrics["train/lr"] = self.last_lr
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=batch.shape[0])
        self.log_dict({"elbo": result.elbo.detach(), "sigma2": result.sigma2.detach()},
                      prog_bar=True, logger=False, on_step=True, on_epoch=False)
        return result.loss

    @torch.no_grad()
    def _closed_form_step(self, batch: torch.Tensor) -> torch.Tensor:
        """Manual optimisation: log the ELBO of the current weights, then one closed-form update."""
        result = self._train_step(batch)
        optimizer = self.optimizers()
        if self._log_this_step():
            metrics = result.metrics("train")
            metrics["train/em_relaxation"] = optimizer.optimizer.last_factor  # the step that gave these weights
            self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=batch.shape[0])
            self.log_dict({"elbo": result.elbo, "sigma2": result.sigma2},
                          prog_bar=True, logger=False, on_step=True, on_epoch=False)
        optimizer.step()
        return result.loss

    # A whole validation pass samples from a fork of the training RNG (one fork, so its batches draw
    # different noise), and training goes on from where it stood before the pass.
    def on_validation_start(self) -> None:
        self._validation_rng = contextlib.ExitStack()
        self._validation_rng.enter_context(measurement_rng(self.device))

    def on_validation_end(self) -> None:
        self._validation_rng.close()

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        result = self._step(batch)
        self.log_dict(result.metrics("val"), on_step=False, on_epoch=True, batch_size=batch.shape[0])

    def parameter_groups(self):
        """All parameters, or two groups when the noise module asks for its own rate (lr_scale)."""
        scale = float(getattr(self.model.noise, "lr_scale", 1.0))
        noise = list(self.model.noise.parameters())
        if scale == 1.0 or not noise or self.closed_form_steps:
            return self.model.parameters()
        ids = {id(p) for p in noise}
        return [{"params": [p for p in self.model.parameters() if id(p) not in ids]},
                {"params": noise, "lr_scale": scale}]

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameter_groups())
        for group in optimizer.param_groups:  # before any scheduler records the initial rates
            if "lr_scale" in group and "lr" in group:
                group["lr"] = group["lr"] * group["lr_scale"]
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
