"""The Gaussian VAE that every model shares: encoder, decoder and observation noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from vae_collapse.maths.gaussian import LOG_2PI, isotropic_log_likelihood, kl_to_standard_normal
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

    ``encoder(x)`` returns (mean, var) for flat x of shape (B, D); ``decoder(z)`` returns the
    flat mean of p(x | z). With ``elbo="analytic"`` the decoder must be linear and offer
    ``expected_squared_error``: the reconstruction term is then exact instead of a
    one-sample reparameterised estimate.
    """

    # dataset.batch_size=auto (vae_collapse.config.batch_size): deep models learn from mini-batches.
    default_batch_size: int | None = 128

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, noise: ObservationNoise, elbo: ELBOKind = "stochastic"
    ) -> None:
        super().__init__()
        if elbo not in ("analytic", "stochastic"):
            raise ValueError(f"elbo={elbo!r} must be 'analytic' or 'stochastic'")
        if elbo == "analytic" and not hasattr(decoder, "expected_squared_error"):
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
        sq_err = self.squared_error(x, z_mean, z_var, analytic)
        dim = x.shape[-1]
        sigma2 = self.noise.sigma2_for(sq_err, dim, step)
        recon = isotropic_log_likelihood(sq_err, sigma2, dim)
        return ELBOTerms(recon=recon, kl_per_dim=kl_to_standard_normal(z_mean, z_var), z_mean=z_mean, sigma2=sigma2)

    def squared_error(
        self, x: torch.Tensor, z_mean: torch.Tensor, z_var: torch.Tensor, analytic: bool | None = None
    ) -> torch.Tensor:
        """E_q ||x - f(z)||^2 per example, (B,): exact where ``analytic``, else one reparameterised sample."""
        if analytic is None:
            analytic = self.elbo_kind == "analytic"
        if analytic:
            return self.decoder.expected_squared_error(x, z_mean, z_var)
        z = z_mean + torch.sqrt(z_var) * torch.randn_like(z_mean)
        return (x - self.decoder(z)).square().sum(-1)

    def log_joint_over_q(
        self, x: torch.Tensor, num_samples: int, step: int = 0,
        posterior: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """log p(x, z_s) - log q(z_s | x) for s = 1..num_samples, shape (num_samples, B): the IWAE weights.

        ``posterior`` is q's (mean, var) for ``x`` when already known: the IWAE estimate draws its
        samples in chunks and encodes each batch once for all of them.
        """
        z_mean, z_var = posterior if posterior is not None else self.encoder(x)
        z_var = z_var.expand_as(z_mean)
        eps = torch.randn(num_samples, *z_mean.shape, dtype=z_mean.dtype, device=z_mean.device)
        offsets = torch.sqrt(z_var) * eps
        z = z_mean + offsets
        sq_err = self.sampled_squared_error(x, z_mean, offsets)
        dim = x.shape[-1]
        log_px_given_z = isotropic_log_likelihood(sq_err, self.noise.sigma2(step), dim)
        log_pz = -0.5 * (z.square() + LOG_2PI).sum(-1)
        log_qz = -0.5 * (eps.square() + LOG_2PI + torch.log(z_var)).sum(-1)
        return log_px_given_z + log_pz - log_qz

    def sampled_squared_error(self, x: torch.Tensor, z_mean: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """||x - f(z_mean + offset)||^2 for offsets of shape (S, B, k): shape (S, B)."""
        z = z_mean + offsets
        recon_mean = self.decoder(z.reshape(-1, z.shape[-1])).reshape(*offsets.shape[:2], -1)
        return (x - recon_mean).square().sum(-1)

    def as_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on this model's device and in its dtype.

        Data splits stay float32 on the CPU, while after training the model may be on a GPU or
        in float64 (``trainer.precision=64-true``): passes outside the Trainer bring each batch over.
        """
        param = next(self.parameters())
        return x.to(device=param.device, dtype=param.dtype)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder mean at the posterior mean: what reconstruction grids show."""
        return self.decoder(self.encoder(x)[0])

    @torch.no_grad()
    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoder means f(z) for z ~ p(z)."""
        param = next(self.parameters())
        z = torch.randn(num, self.latent_dim, generator=generator, dtype=param.dtype).to(param.device)
        return self.decoder(z)

    def log_marginal(self, x: torch.Tensor, step: int = 0) -> torch.Tensor | None:
        """Exact log p(x) at the noise policy's sigma^2 for ``step``, where the model has one in closed form, else None."""
        return None
