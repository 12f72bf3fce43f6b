"""The closed-form pPCA optimum of the training data: the line every run is measured against."""

from __future__ import annotations

from vae_collapse.maths import ppca
from vae_collapse.maths.moments import DataMoments
from vae_collapse.models.noise import ObservationNoise


def ppca_reference(moments: DataMoments, latent_dim: int, noise: ObservationNoise) -> dict[str, float]:
    """``ppca/*`` metrics, same 1/N normalisation as the full-batch ELBO.

    sigma^2 is the model's own where it is fixed, and pPCA's maximum-likelihood value
    where it is learned; ``ppca/active_dims`` counts the top-k eigenvalues above it.
    """
    spec = ppca.spectrum(moments)
    sigma2 = None if noise.learned else float(noise.sigma2())
    solution = ppca.ppca_ml(spec, latent_dim, sigma2)
    return {
        "ppca/log_px": solution.log_px,
        "ppca/sigma2": solution.sigma2,
        "ppca/active_dims": solution.active_dims,
    }
