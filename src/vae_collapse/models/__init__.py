"""VAEs as plain torch modules: an encoder, a decoder and an observation-noise module."""

from vae_collapse.models.linear_vae import LinearVAE
from vae_collapse.models.noise import FixedNoise, LearnedNoise, ObservationNoise
from vae_collapse.models.vae import ELBOTerms, GaussianVAE

__all__ = ["ELBOTerms", "FixedNoise", "GaussianVAE", "LearnedNoise", "LinearVAE", "ObservationNoise"]
