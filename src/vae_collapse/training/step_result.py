"""What one training or evaluation step produced, and its metric names."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vae_collapse.models.vae import ELBOTerms


@dataclass
class StepResult:
    """Batch averages of one step. Metric names are an API: ``stage/name`` everywhere."""

    loss: torch.Tensor
    elbo: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    sigma2: torch.Tensor
    beta: float = 1.0

    @classmethod
    def from_averages(cls, recon: torch.Tensor, kl: torch.Tensor, sigma2: torch.Tensor, beta: float = 1.0) -> StepResult:
        # beta only weighs the loss: the reported ELBO is always the true bound.
        return cls(loss=-(recon - beta * kl), elbo=recon - kl, recon=recon, kl=kl, sigma2=sigma2, beta=beta)

    @classmethod
    def from_terms(cls, terms: ELBOTerms, beta: float = 1.0) -> StepResult:
        return cls.from_averages(terms.recon.mean(), terms.kl.mean(), terms.sigma2, beta)

    def metrics(self, stage: str) -> dict[str, torch.Tensor]:
        """``stage/elbo``, ``/recon``, ``/kl``, ``/sigma2`` and ``/beta`` of this step.

        ``beta`` is the schedule at the step the batch was scored at, ``noise.beta(global_step)``;
        it weighs only the training loss, never ``elbo`` (always the true bound). ``train/beta``
        in metrics.csv is therefore the weight the logged step trained with; summary.json's is the
        schedule where the run ends, ``noise.beta(steps)``, beside the final model's ``train/*``.
        ``val/beta`` differs legitimately: validation runs after an epoch's last step, with
        global_step already advanced, so it is beta one step later than the ``train/beta`` logged
        in the same row of metrics.csv (the weight the next step would train with); and the last
        validation is at the last epoch's end, which can come before the run's: a 100-step run of
        16-batch epochs ends with ``val/beta`` = beta(96), from the validation after step 95.
        """
        return {
            f"{stage}/elbo": self.elbo.detach(),
            f"{stage}/recon": self.recon.detach(),
            f"{stage}/kl": self.kl.detach(),
            f"{stage}/sigma2": self.sigma2.detach(),
            f"{stage}/beta": torch.tensor(float(self.beta)),
        }
