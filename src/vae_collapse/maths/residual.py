"""The linear theory's collapse test applied to what a trained model leaves unexplained.

pPCA keeps a latent direction exactly when its data-covariance eigenvalue exceeds sigma^2
(``ppca/active_dims``). A non-linear decoder explains more with each latent, so that count of
the *data* says little about a deep model. The same test on the model's *residual*
r(x) = x - f(E_q[z | x]) says whether one more latent would pay for itself:

Take a latent j that is collapsed (q(z_j | x) = N(0, 1), the decoder ignores it) and open it a
little along a unit direction u: encoder mean a * u^T (r(x) - mean r), decoder output
f(z) + w * u * z_j. With lambda = u^T Cov[r] u, the ELBO per example changes by

    w a lambda / sigma^2  -  w^2 / (2 sigma^2)  -  a^2 lambda / 2   (+ higher order),

a quadratic form in (w, a) whose Hessian has determinant lambda (sigma^2 - lambda) / sigma^4:
negative, so that some direction increases the ELBO, exactly when lambda > sigma^2 (pPCA's
condition, on the residual instead of the data). So every eigenvalue of Cov[r] above sigma^2 is a direction
along which some collapsed latent could grow; none means every collapsed latent is stable
against this perturbation, and the run's collapse is no sign of unfinished training.

The decoder term assumes the network can add w u z_j to its output, as a linear decoder
can; a deep decoder can come close. The residual is taken at the posterior mean, not
averaged over q: cheaper, deterministic, and on the presets within a few per cent of the
average in the largest eigenvalues.
"""

from __future__ import annotations

import torch


def dims_above(eigvals: torch.Tensor, sigma2: float) -> int:
    """How many eigenvalues exceed ``sigma2``: directions along which a collapsed latent would pay
    for its KL. On the residual's covariance spectrum this is ``ppca/residual_dims``."""
    return int((eigvals > sigma2).sum())
