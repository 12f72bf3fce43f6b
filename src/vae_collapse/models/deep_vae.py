"""Deep Gaussian VAEs: MLP and convolutional encoder/decoder pairs with the shared noise module."""

from __future__ import annotations

from vae_collapse.models.conv import ConvDecoder, ConvEncoder
from vae_collapse.models.mlp import MLPDecoder, MLPEncoder
from vae_collapse.models.noise import ObservationNoise
from vae_collapse.models.vae import GaussianVAE


def _check_latent(latent_dim: int) -> None:
    if latent_dim < 1:
        raise ValueError(f"latent_dim={latent_dim} must be >= 1")


class MLPVAE(GaussianVAE):
    """MLP encoder and decoder; the decoder's hidden widths mirror the encoder's."""

    def __init__(
        self,
        data_dim: int,
        sample_shape: tuple[int, ...],
        noise: ObservationNoise,
        latent_dim: int = 32,
        hidden: list[int] = (1024, 512),
        activation: str = "relu",
    ) -> None:
        _check_latent(latent_dim)
        hidden = list(hidden)
        if not hidden:
            # With no hidden layer both networks are affine: that is the linear VAE, which has its
            # own model with the exact ELBO, so an empty list is more likely a typo than a choice.
            raise ValueError("hidden=[] leaves the MLP VAE without hidden layers; for a linear VAE use model=linear_vae")
        super().__init__(
            MLPEncoder(data_dim, latent_dim, hidden, activation),
            MLPDecoder(data_dim, latent_dim, list(reversed(hidden)), activation),
            noise,
            elbo="stochastic",
        )


class ConvVAE(GaussianVAE):
    """Convolutional encoder and decoder for (C, H, W) images."""

    def __init__(
        self,
        data_dim: int,
        sample_shape: tuple[int, ...],
        noise: ObservationNoise,
        latent_dim: int = 32,
        channels: list[int] = (32, 64),
        activation: str = "relu",
    ) -> None:
        _check_latent(latent_dim)
        super().__init__(
            ConvEncoder(sample_shape, latent_dim, list(channels), activation),
            ConvDecoder(sample_shape, latent_dim, list(channels), activation),
            noise,
            elbo="stochastic",
        )
