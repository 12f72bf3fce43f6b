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
        return {
            f"{stage}/elbo": self.elbo.detach(),
            f"{stage}/recon": self.recon.detach(),
            f"{stage}/kl": self.kl.detach(),
            f"{stage}/sigma2": self.sigma2.detach(),
            f"{stage}/beta": torch.tensor(float(self.beta)),
        }
