"""VAEs as plain torch modules: an encoder, a decoder and an observation-noise module."""

from vae_collapse.models.deep_vae import ConvVAE, MLPVAE
from vae_collapse.models.linear_vae import LinearVAE
from vae_collapse.models.noise import (
    AnnealedNoise,
    FixedNoise,
    KLAnnealing,
    LearnedNoise,
    ObservationNoise,
    OptimalNoise,
)
from vae_collapse.models.vae import ELBOTerms, GaussianVAE

__all__ = [
    "AnnealedNoise",
    "ConvVAE",
    "ELBOTerms",
    "FixedNoise",
    "GaussianVAE",
    "KLAnnealing",
    "LearnedNoise",
    "LinearVAE",
    "MLPVAE",
    "ObservationNoise",
    "OptimalNoise",
]
