"""The closed-form pPCA optimum of the training data: the line every run is measured against."""

from __future__ import annotations

import torch

from vae_collapse.maths import ppca
from vae_collapse.models.noise import ObservationNoise


def ppca_reference(
    eigvals: torch.Tensor, latent_dim: int, noise: ObservationNoise, last_step: int | None = None
) -> dict[str, float]:
    """``ppca/*`` metrics, same 1/N normalisation as the full-batch ELBO.

    sigma^2 is the value the run's noise policy settles at where it is not fitted (fixed, or
    the end of an anneal, or where ``last_step`` cuts it off), and pPCA's maximum-likelihood value where it is (learned,
    optimal); ``ppca/active_dims`` counts the top-k eigenvalues above it. ``eigvals`` are the
    training covariance's, decreasing (:func:`~vae_collapse.maths.moments.covariance_eigenvalues`).
    """
    latent_dim = min(latent_dim, eigvals.shape[0] - 1)  # a deep model's k may exceed pPCA's range
    sigma2, log_px, active_dims = ppca.optimum(eigvals, latent_dim, noise.reference_sigma2(last_step))
    return {"ppca/log_px": log_px, "ppca/sigma2": sigma2, "ppca/active_dims": active_dims}
