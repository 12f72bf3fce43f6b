"""vae-collapse: posterior collapse in linear and deep Gaussian VAEs."""

__version__ = "0.1.0"
