"""The linear VAE's exact ELBO and its relation to pPCA.

Decoder p(x | z) = N(W z + mu, sigma2 I); encoder q(z | x) = N(V x + b, D) with a
diagonal D shared by all x. The paper writes the encoder mean as V (x - mu); a free bias b
contains that family (b = -V mu) and lets any encoder pair with any decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vae_collapse.maths.gaussian import LOG_2PI, isotropic_log_likelihood, kl_to_standard_normal
from vae_collapse.maths.moments import DataMoments


@dataclass(frozen=True)
class LinearVAEParams:
    W: torch.Tensor  # (n, k) decoder weights
    mu: torch.Tensor  # (n,) decoder bias
    V: torch.Tensor  # (k, n) encoder weights
    b: torch.Tensor  # (k,) encoder bias
    log_d: torch.Tensor  # (k,) log of the shared posterior variances
    sigma2: torch.Tensor  # () observation noise


def expected_squared_error(
    x: torch.Tensor, W: torch.Tensor, mu: torch.Tensor, z_mean: torch.Tensor, z_var: torch.Tensor
) -> torch.Tensor:
    """E_q ||x - W z - mu||^2 for q = N(z_mean, diag(z_var)): residual plus sum_j var_j ||W_j||^2."""
    residual = x - z_mean @ W.T - mu
    spread = (z_var * W.square().sum(0)).sum(-1)
    return residual.square().sum(-1) + spread


def analytic_elbo_terms(x: torch.Tensor, p: LinearVAEParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example reconstruction term (B,) and per-dimension KL (B, k), both exact.

    The paper's formula written out per example: the reference that the models' fast paths
    (``moments_terms``, ``LinearVAE.forward``) are tested against, not used in training.
    """
    z_mean = x @ p.V.T + p.b
    z_var = torch.exp(p.log_d).expand_as(z_mean)
    recon = isotropic_log_likelihood(expected_squared_error(x, p.W, p.mu, z_mean, z_var), p.sigma2, x.shape[-1])
    return recon, kl_to_standard_normal(z_mean, z_var)


def moments_terms(moments: DataMoments, p: LinearVAEParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Average E_q||x - W z - mu||^2 and average total KL over a data set, from its moments only.

    Every per-example term is a quadratic in x, so replacing x x^T by S + xbar xbar^T gives the
    exact average. With A = I - W V, tr(A S A^T) is expanded as
    tr S - 2 <V S, W^T> + <V S V^T, W^T W> so that no n x n x n product is ever formed:
    the cost is O(n^2 k) whatever the number of examples.
    """
    k = p.W.shape[1]
    S = moments.cov.to(p.W.dtype)
    xbar = moments.mean.to(p.W.dtype)
    VS = p.V @ S  # (k, n)
    VSVt = VS @ p.V.T  # (k, k)
    WtW = p.W.T @ p.W  # (k, k)
    spread_of_residual = torch.trace(S) - 2.0 * (VS * p.W.T).sum() + (VSVt * WtW).sum()
    mean_z = p.V @ xbar + p.b
    mean_residual = xbar - p.W @ mean_z - p.mu
    d = torch.exp(p.log_d)
    sq_err = spread_of_residual + mean_residual @ mean_residual + (d * torch.diagonal(WtW)).sum()
    kl = 0.5 * (d.sum() - p.log_d.sum() + torch.trace(VSVt) + mean_z @ mean_z - k)
    return sq_err, kl


def analytic_elbo_from_moments(moments: DataMoments, p: LinearVAEParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Average reconstruction term and average KL over a data set (see :func:`moments_terms`).

    A reference for the tests (identity 1: it equals the per-example average).
    """
    sq_err, kl = moments_terms(moments, p)
    return isotropic_log_likelihood(sq_err, p.sigma2, p.W.shape[0]), kl


def optimal_encoder(W: torch.Tensor, mu: torch.Tensor, sigma2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The best diagonal-covariance encoder for a fixed decoder: V = M^{-1} W^T, d_i = sigma2 / M_ii."""
    k = W.shape[1]
    sigma2 = torch.as_tensor(sigma2, dtype=W.dtype, device=W.device)
    M = W.T @ W + sigma2 * torch.eye(k, dtype=W.dtype, device=W.device)
    V = torch.linalg.solve(M, W.T)
    b = -(V @ mu)
    log_d = torch.log(sigma2 / torch.diagonal(M))
    return V, b, log_d


def optimal_encoder_gap(W: torch.Tensor, sigma2) -> torch.Tensor:
    """log p(x) - ELBO under the optimal diagonal encoder: 1/2 (sum_i log M_ii - log det M) >= 0.

    Zero exactly when W^T W is diagonal, i.e. when the decoder columns are orthogonal. A
    closed form the tests check the ELBO against (identity 4); training does not need it.
    """
    k = W.shape[1]
    M = W.T @ W + sigma2 * torch.eye(k, dtype=W.dtype, device=W.device)
    return 0.5 * (torch.log(torch.diagonal(M)).sum() - torch.logdet(M))


__all__ = [
    "LOG_2PI",
    "LinearVAEParams",
    "analytic_elbo_from_moments",
    "analytic_elbo_terms",
    "moments_terms",
    "expected_squared_error",
    "optimal_encoder",
    "optimal_encoder_gap",
]
