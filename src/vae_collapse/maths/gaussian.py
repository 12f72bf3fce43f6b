"""Gaussian log-densities and KL divergences shared by every model."""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2.0 * math.pi)


def kl_to_standard_normal(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """Per-dimension KL( N(mean, var) || N(0, 1) ) for a diagonal Gaussian.

    Returned with the same shape as ``mean`` (broadcast with ``var``), so that
    collapse metrics can look at every latent dimension separately.
    """
    return 0.5 * (var + mean.square() - 1.0 - torch.log(var))


def isotropic_log_likelihood(
    squared_error: torch.Tensor, sigma2: torch.Tensor | float, dim: int
) -> torch.Tensor:
    """log N(x; m, sigma2 I) in ``dim`` dimensions, given ||x - m||^2 (or its expectation)."""
    sigma2 = torch.as_tensor(sigma2, dtype=squared_error.dtype, device=squared_error.device)
    return -0.5 * (squared_error / sigma2 + dim * (LOG_2PI + torch.log(sigma2)))
