"""The Gaussian VAE that every model shares: encoder, decoder and observation noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from vae_collapse.maths.gaussian import isotropic_log_likelihood, kl_to_standard_normal
from vae_collapse.models.noise import ObservationNoise

ELBOKind = Literal["analytic", "stochastic"]


@dataclass
class ELBOTerms:
    """Per-example pieces of the ELBO for one batch, kept apart for the metrics."""

    recon: torch.Tensor  # (B,) E_q[log p(x | z)]
    kl_per_dim: torch.Tensor  # (B, k) KL(q(z_i | x) || p(z_i))
    z_mean: torch.Tensor  # (B, k)
    sigma2: torch.Tensor  # ()

    @property
    def kl(self) -> torch.Tensor:
        return self.kl_per_dim.sum(-1)

    @property
    def elbo(self) -> torch.Tensor:
        return self.recon - self.kl


class GaussianVAE(nn.Module):
    """q(z | x) = N(m(x), diag v(x)), p(z) = N(0, I), p(x | z) = N(f(z), sigma^2 I).

    ``encoder(x)`` returns (mean, var); ``decoder(z)`` returns the mean of p(x | z). With
    ``elbo="analytic"`` the decoder must be linear and offer ``expected_squared_error``: the
    reconstruction term is then exact instead of a one-sample reparameterised estimate.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, noise: ObservationNoise, elbo: ELBOKind = "stochastic"
    ) -> None:
        super().__init__()
        if elbo not in ("analytic", "stochastic"):
            raise ValueError(f"elbo={elbo!r} must be 'analytic' or 'stochastic'")
        if elbo == "analytic" and not hasattr(decoder, "expected_squared_error"):  # noqa: SIM102
            raise ValueError(f"elbo='analytic' needs a linear decoder, not {type(decoder).__name__}")
        self.encoder = encoder
        self.decoder = decoder
        self.noise = noise
        self.elbo_kind = elbo

    @property
    def latent_dim(self) -> int:
        return self.encoder.latent_dim

    @property
    def has_analytic_elbo(self) -> bool:
        return hasattr(self.decoder, "expected_squared_error")

    def forward(self, x: torch.Tensor, step: int = 0, analytic: bool | None = None) -> ELBOTerms:
        """ELBO terms of a batch; ``analytic`` overrides the configured kind (evaluation uses the exact one)."""
        z_mean, z_var = self.encoder(x)
        z_var = z_var.expand_as(z_mean)
        sigma2 = self.noise.sigma2(step)
        if analytic is None:
            analytic = self.elbo_kind == "analytic"
        if analytic:
            sq_err = self.decoder.expected_squared_error(x, z_mean, z_var)
        else:
            z = z_mean + torch.sqrt(z_var) * torch.randn_like(z_mean)
            sq_err = (x - self.decoder(z)).flatten(1).square().sum(-1)
        recon = isotropic_log_likelihood(sq_err, sigma2, x[0].numel())
        return ELBOTerms(recon=recon, kl_per_dim=kl_to_standard_normal(z_mean, z_var), z_mean=z_mean, sigma2=sigma2)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor | None:
        """Exact log p(x) where the model has one in closed form, else None."""
        return None
