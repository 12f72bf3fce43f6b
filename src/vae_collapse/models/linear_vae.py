"""The linear VAE: pPCA's decoder with a linear, diagonal-covariance encoder."""

from __future__ import annotations

from typing import Literal

import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.linear_vae import LinearVAEParams, analytic_elbo_from_moments, optimal_encoder
from vae_collapse.maths.moments import DataMoments
from vae_collapse.models.linear import LinearDecoder, LinearEncoder
from vae_collapse.models.noise import ObservationNoise
from vae_collapse.models.vae import ELBOKind, GaussianVAE

FitMethod = Literal["gradient", "closed_form"]


class LinearVAE(GaussianVAE):
    """Decoder N(W z + mu, sigma^2 I), encoder N(V x + b, D).

    ``fit="closed_form"`` makes this the pPCA model: its parameters are set to the
    Tipping-Bishop solution and the optimal encoder, and no gradient step is taken.
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        noise: ObservationNoise,
        elbo: ELBOKind = "analytic",
        fit: FitMethod = "gradient",
    ) -> None:
        if not 1 <= latent_dim <= data_dim:
            raise ValueError(f"latent_dim={latent_dim} must be between 1 and the data dimension {data_dim}")
        if fit not in ("gradient", "closed_form"):
            raise ValueError(f"fit={fit!r} must be 'gradient' or 'closed_form'")
        super().__init__(LinearEncoder(data_dim, latent_dim), LinearDecoder(data_dim, latent_dim), noise, elbo)
        self.fit = fit

    def params(self) -> LinearVAEParams:
        enc, dec = self.encoder, self.decoder
        return LinearVAEParams(W=dec.W, mu=dec.mu, V=enc.V, b=enc.b, log_d=enc.log_d, sigma2=self.noise.sigma2())

    def elbo_from_moments(self, moments: DataMoments) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact average (reconstruction term, KL) over a data set with these moments: O(n^2 k)."""
        return analytic_elbo_from_moments(moments, self.params())

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        dec = self.decoder
        return ppca.log_likelihood(x.flatten(1), dec.W, dec.mu, self.noise.sigma2())

    @torch.no_grad()
    def fit_closed_form(self, moments: DataMoments) -> ppca.PPCASolution:
        """Set every parameter to the pPCA optimum (sigma^2 learned or the fixed value)."""
        sigma2 = None if self.noise.learned else float(self.noise.sigma2())
        solution = ppca.ppca_ml(ppca.spectrum(moments), self.latent_dim, sigma2)
        if self.noise.learned:
            self.noise.set_sigma2(solution.sigma2)
        V, b, log_d = optimal_encoder(solution.W, solution.mu, solution.sigma2)
        dtype = self.decoder.W.dtype
        self.decoder.W.copy_(solution.W.to(dtype))
        self.decoder.mu.copy_(solution.mu.to(dtype))
        self.encoder.V.copy_(V.to(dtype))
        self.encoder.b.copy_(b.to(dtype))
        self.encoder.log_d.copy_(log_d.to(dtype))
        return solution
