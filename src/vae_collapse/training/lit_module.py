"""The one LightningModule shared by every VAE (linear, MLP, convolutional)."""

from __future__ import annotations

from collections.abc import Callable

import lightning.pytorch as pl
import torch

from vae_collapse.models.vae import GaussianVAE
from vae_collapse.training.step_result import StepResult

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


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

    def forward(self, x: torch.Tensor):
        return self.model(x, step=self.global_step)

    def _step(self, x: torch.Tensor) -> StepResult:
        return StepResult.from_terms(self.model(x, step=self.global_step))

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        result = self._step(batch)
        if not torch.isfinite(result.loss):
            raise FloatingPointError(f"non-finite loss {float(result.loss)} at step {self.global_step}")
        self.log_dict(result.metrics("train"), on_step=True, on_epoch=False, batch_size=batch.shape[0])
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], on_step=True, on_epoch=False)
        self.log("elbo", result.elbo.detach(), prog_bar=True, logger=False, on_step=True, on_epoch=False)
        self.log("sigma2", result.sigma2.detach(), prog_bar=True, logger=False, on_step=True, on_epoch=False)
        return result.loss

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        result = self._step(batch)
        self.log_dict(result.metrics("val"), on_step=False, on_epoch=True, batch_size=batch.shape[0])

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
