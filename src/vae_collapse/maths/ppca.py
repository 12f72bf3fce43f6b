"""Probabilistic PCA in closed form (Tipping & Bishop, 1999).

Model: z ~ N(0, I_k), x | z ~ N(W z + mu, sigma2 I_n), so x ~ N(mu, C) with
C = W W^T + sigma2 I. The closed forms work from the data's moments (float64 eigenvalues);
the likelihoods compute in W's dtype. The Woodbury identity keeps every solve k x k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vae_collapse.maths.gaussian import LOG_2PI
from vae_collapse.maths.moments import DataMoments


@dataclass(frozen=True)
class Spectrum:
    """Eigen-decomposition of the data covariance, eigenvalues in decreasing order."""

    eigvals: torch.Tensor  # (n,)
    eigvecs: torch.Tensor  # (n, n), column i belongs to eigvals[i]
    mean: torch.Tensor  # (n,)


@dataclass(frozen=True)
class PPCASolution:
    """The maximum-likelihood pPCA model for a latent size k (sigma2 learned or fixed)."""

    W: torch.Tensor  # (n, k), columns on the top-k principal directions
    mu: torch.Tensor  # (n,)
    sigma2: float
    log_px: float  # average log-likelihood of the data it was fitted to
    active_dims: int  # #{i <= k : lambda_i > sigma2}, the non-collapsed columns


def spectrum(moments: DataMoments) -> Spectrum:
    cov = moments.cov.to(torch.float64)
    eigvals, eigvecs = torch.linalg.eigh(cov)
    # eigh returns ascending order and may give tiny negatives for a singular S
    # (constant border pixels on MNIST); those are exact zeros in theory.
    eigvals = eigvals.flip(0).clamp_min(0.0)
    eigvecs = eigvecs.flip(1)
    return Spectrum(eigvals=eigvals, eigvecs=eigvecs, mean=moments.mean.to(torch.float64))


def eigenvalues(moments: DataMoments) -> torch.Tensor:
    """The covariance eigenvalues alone, decreasing: what the ppca/* reference needs.

    Several times cheaper than :func:`spectrum` for large n (no eigenvectors): on 64x64x3
    images (n = 12,288) the eigenvectors were most of a run's start-up.
    """
    return torch.linalg.eigvalsh(moments.cov.to(torch.float64)).flip(0).clamp_min(0.0)


class UnboundedLikelihood(ValueError):
    """sigma2_ML = 0: the data lie in a subspace of dimension at most k, and log p(x) has no maximum."""


# Discarded eigenvalues this small, relative to the largest, are rounding errors of exact zeros.
ZERO_EIGENVALUE = 1e-12


def ml_sigma2(eigvals: torch.Tensor, k: int) -> float:
    """sigma2_ML: the mean of the n - k discarded eigenvalues."""
    n = eigvals.shape[0]
    if not 0 <= k < n:
        raise ValueError(f"latent size k={k} must be below the data dimension n={n} to learn sigma2")
    sigma2 = float(eigvals[k:].mean())
    if sigma2 <= ZERO_EIGENVALUE * max(float(eigvals[0]), 0.0):
        rank = int((eigvals > ZERO_EIGENVALUE * max(float(eigvals[0]), 0.0)).sum())
        if rank == 0:
            raise UnboundedLikelihood("every example is the same point (the covariance is zero), so sigma2_ML = 0 "
                                      "and the likelihood is unbounded; check the data, or use a fixed sigma2")
        smaller = f"a latent size below {rank}, " if rank > 1 else ""
        raise UnboundedLikelihood(
            f"the data span {rank} dimension{'s' if rank > 1 else ''}, no more than the latent size k={k}: the "
            f"{n - k} discarded eigenvalues are zero, so sigma2_ML = 0 and the likelihood is unbounded; use "
            f"{smaller}more data, or a fixed sigma2"
        )
    return sigma2


def predicted_active_dims(eigvals: torch.Tensor, sigma2: float, k: int) -> int:
    """The number of the top-k directions that do not collapse at this sigma2 (eigenvalue above it).

    Above by more than rounding: on a flat spectrum sigma2_ML is the mean of equal eigenvalues,
    which can round a hair below them and would count every direction as active.
    """
    return int((eigvals[:k] > sigma2 * (1.0 + 16 * torch.finfo(eigvals.dtype).eps)).sum())


def optimum_log_likelihood(eigvals: torch.Tensor, k: int, sigma2: float) -> float:
    """Average log-likelihood of the best W for this sigma2, from the spectrum alone.

    On u_i the optimal C has eigenvalue c_i = max(lambda_i, sigma2) for i <= k and
    sigma2 beyond, so l = -1/2 sum_i [log 2 pi + log c_i + lambda_i / c_i].
    """
    c = torch.full_like(eigvals, sigma2)
    c[:k] = torch.clamp(eigvals[:k], min=sigma2)
    return float(-0.5 * (LOG_2PI + torch.log(c) + eigvals / c).sum())


def ppca_ml(spec: Spectrum, k: int, sigma2: float | None = None, floor: float = 0.0) -> PPCASolution:
    """The Tipping-Bishop maximiser, with sigma2 learned (None; at least ``floor``) or held fixed."""
    sigma2, log_px, active_dims = optimum(spec.eigvals, k, sigma2, floor)
    scale = torch.sqrt(torch.clamp(spec.eigvals[:k] - sigma2, min=0.0))
    W = spec.eigvecs[:, :k] * scale
    return PPCASolution(W=W, mu=spec.mean.clone(), sigma2=sigma2, log_px=log_px, active_dims=active_dims)


def optimum(
    eigvals: torch.Tensor, k: int, sigma2: float | None = None, floor: float = 0.0
) -> tuple[float, float, int]:
    """(sigma2, average log-likelihood, active dims) of the pPCA maximiser, from the eigenvalues alone.

    ``sigma2=None`` fits it: sigma2_ML, or ``floor`` where that is larger. With W at its best
    for each sigma2, the log-likelihood increases up to sigma2_ML and decreases after it, so
    the floor is the constrained maximum. Where sigma2_ML is 0 (the data span no more than k
    dimensions) it raises :class:`UnboundedLikelihood` whatever the floor: that maximum would
    sit on the floor, a number the floor alone sets, and no reference worth comparing with.
    """
    n = eigvals.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"latent size k={k} must be between 1 and the data dimension n={n}")
    if sigma2 is None:
        sigma2 = max(ml_sigma2(eigvals, k), floor)
    elif sigma2 <= 0.0:
        raise ValueError(f"sigma2={sigma2} must be > 0")
    sigma2 = float(sigma2)
    return sigma2, optimum_log_likelihood(eigvals, k, sigma2), predicted_active_dims(eigvals, sigma2, k)


def _woodbury(W: torch.Tensor, sigma2: torch.Tensor | float):
    k = W.shape[1]
    M = W.T @ W + sigma2 * torch.eye(k, dtype=W.dtype, device=W.device)
    chol = torch.linalg.cholesky(M)
    logdet_M = 2.0 * torch.log(torch.diagonal(chol)).sum()
    return M, chol, logdet_M


def log_likelihood(x: torch.Tensor, W: torch.Tensor, mu: torch.Tensor, sigma2) -> torch.Tensor:
    """Exact per-example log p(x) under pPCA, for a batch (B, n)."""
    n, k = W.shape
    sigma2 = torch.as_tensor(sigma2, dtype=W.dtype, device=W.device)
    _, chol, logdet_M = _woodbury(W, sigma2)
    r = x - mu
    proj = torch.cholesky_solve((r @ W).T, chol).T  # M^{-1} W^T r, row-wise
    quad = (r.square().sum(-1) - (r @ W * proj).sum(-1)) / sigma2
    logdet_C = (n - k) * torch.log(sigma2) + logdet_M
    return -0.5 * (n * LOG_2PI + logdet_C + quad)


def average_log_likelihood(moments: DataMoments, W: torch.Tensor, mu: torch.Tensor, sigma2) -> torch.Tensor:
    """Average log p(x) over a data set, from its mean and 1/N covariance only.

    A reference for the tests (the per-example ``log_likelihood`` averaged); runs use the closed form.
    """
    n, k = W.shape
    sigma2 = torch.as_tensor(sigma2, dtype=W.dtype, device=W.device)
    _, chol, logdet_M = _woodbury(W, sigma2)
    S = moments.cov.to(W.dtype)
    SW = S @ W
    tr_Cinv_S = (torch.trace(S) - torch.trace(torch.cholesky_solve(W.T @ SW, chol))) / sigma2
    d = moments.mean.to(W.dtype) - mu
    dW = d @ W
    quad = (d @ d - dW @ torch.cholesky_solve(dW[:, None], chol)[:, 0]) / sigma2
    logdet_C = (n - k) * torch.log(sigma2) + logdet_M
    return -0.5 * (n * LOG_2PI + logdet_C + tr_Cinv_S + quad)


def zero_column_profile(lambda_m: torch.Tensor | float, sigma2: float, eps: torch.Tensor) -> torch.Tensor:
    """Change in l when a zero column of a stationary point moves by eps along an unused u_m.

    -1/2 log(1 + eps^2/sigma2) + lambda_m eps^2 / (2 sigma2 (sigma2 + eps^2)); its curvature
    at eps = 0 is (lambda_m - sigma2) / sigma2^2, so the point is stable once sigma2 > lambda_m.
    """
    e2 = eps.square()
    return -0.5 * torch.log1p(e2 / sigma2) + lambda_m * e2 / (2.0 * sigma2 * (sigma2 + e2))


def zero_column_surface(
    lambda_a: float, lambda_b: float, sigma2: float, a: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """Change in l when a zero column moves to a u_a + b u_b, two unused eigenvectors (the paper's Figure 1).

    The change depends on the column w only through ||w||^2 = a^2 + b^2 and w^T S w =
    a^2 lambda_a + b^2 lambda_b, so it is :func:`zero_column_profile` at radius ||w|| with the
    effective eigenvalue w^T S w / ||w||^2; along either axis it is that direction's profile.
    """
    a, b = torch.broadcast_tensors(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))
    r2 = a.square() + b.square()
    # At the stationary point itself (r = 0) the change is 0 whatever lambda_eff is; 1 avoids 0/0.
    safe = torch.where(r2 > 0, r2, torch.ones_like(r2))
    lambda_eff = (a.square() * lambda_a + b.square() * lambda_b) / safe
    return zero_column_profile(lambda_eff, sigma2, r2.sqrt())
