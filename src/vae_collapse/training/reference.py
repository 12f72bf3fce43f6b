"""The closed-form pPCA optimum of the training data: the line every run is measured against."""

from __future__ import annotations

from typing import Any

import torch

from vae_collapse.config import ConfigError
from vae_collapse.maths import ppca
from vae_collapse.models.noise import ObservationNoise
from vae_collapse.reporting.console import say


def largest_fittable_k(data_dim: int, latent_dim: int, sigma2: float | None) -> int:
    """The latent size pPCA is given for a model of ``latent_dim`` latents.

    A learned sigma^2 is the mean of the discarded eigenvalues, so it needs k < n; a fixed one
    lets pPCA use every direction (k = n). A deep model's k may exceed either.
    """
    return min(latent_dim, data_dim - 1 if sigma2 is None else data_dim)


def ppca_reference(
    eigvals: torch.Tensor, latent_dim: int, noise: ObservationNoise, last_step: int | None = None
) -> dict[str, float]:
    """``ppca/*`` metrics, same 1/N normalisation as the full-batch ELBO.

    sigma^2 is the value the run's noise policy settles at where it is not fitted (fixed, or
    the end of an anneal, or where ``last_step`` cuts it off), and pPCA's maximum-likelihood value where it is (learned,
    optimal; the policy's ``min_sigma2`` where that is larger, and no reference where sigma^2_ML is 0:
    see :func:`~vae_collapse.maths.ppca.optimum`); ``ppca/active_dims`` counts the top-k eigenvalues above it. ``eigvals`` are the
    training covariance's, decreasing (:func:`~vae_collapse.maths.moments.covariance_eigenvalues`).
    """
    sigma2 = noise.reference_sigma2(last_step)
    latent_dim = largest_fittable_k(eigvals.shape[0], latent_dim, sigma2)
    sigma2, log_px, active_dims = ppca.optimum(eigvals, latent_dim, sigma2, noise.sigma2_floor())
    return {"ppca/log_px": log_px, "ppca/sigma2": sigma2, "ppca/active_dims": active_dims}


def run_reference(eigvals: torch.Tensor, model: Any, noise: ObservationNoise, last_step: int | None) -> dict[str, float]:
    """``ppca/*`` for a run; where pPCA's learned sigma^2 would be 0 (too few images for the
    latent size), a closed-form fit is refused and a trained model goes on without the reference."""
    if eigvals.shape[0] < 2 and noise.reference_sigma2(last_step) is None:  # k < n: no latent to fit
        say("vae-collapse: warning: no pPCA optimum (ppca/log_px, ppca/sigma2, ppca/active_dims) for this run: "
            "the data have one dimension, and with a learned sigma2 pPCA fits latent sizes below the data dimension", err=True)
        return {}
    try:
        return ppca_reference(eigvals, model.latent_dim, noise, last_step)
    except ppca.UnboundedLikelihood as exc:
        if getattr(model, "fit", "gradient") == "closed_form":
            raise ConfigError(f"model.latent_dim={model.latent_dim}: {exc}") from None
        fitted = largest_fittable_k(eigvals.shape[0], model.latent_dim, noise.reference_sigma2(last_step))
        as_k = f" (pPCA with k={fitted}, the most it can fit)" if fitted != model.latent_dim else ""
        say(f"vae-collapse: warning: no pPCA optimum (ppca/log_px, ppca/sigma2, ppca/active_dims) for this "
            f"run{as_k}: {exc}", err=True)
        return {}
