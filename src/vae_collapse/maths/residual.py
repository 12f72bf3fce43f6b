"""The linear theory's collapse test applied to what a trained model leaves unexplained.

pPCA keeps a latent direction exactly when its data-covariance eigenvalue exceeds sigma^2
(``ppca/active_dims``). A non-linear decoder explains more with each latent, so that count of
the *data* says little about a deep model. The same test on the model's *residual*
r(x) = x - f(E_q[z | x]) says whether one more latent would pay for itself:

Take a latent j that is collapsed (q(z_j | x) = N(0, 1), the decoder ignores it) and open it a
little along a unit direction u: encoder mean a * u^T (r(x) - mean r), decoder output
f(z) + w * u * z_j. With lambda = u^T Cov[r] u, the ELBO per example changes by

    w a lambda / sigma^2  -  w^2 / (2 sigma^2)  -  a^2 lambda / 2  -  w^2 a^2 lambda / (2 sigma^2),

exactly for a linear decoder, whose residual at the posterior mean is the one averaged over q.
Its quadratic part has a Hessian with determinant lambda (sigma^2 - lambda) / sigma^4: negative,
so that some direction increases the ELBO, exactly when lambda > sigma^2 (pPCA's condition, on
the residual instead of the data). The quartic term is never positive, so for a linear decoder
lambda <= sigma^2 rules out every opening of this kind, not just small ones. Every eigenvalue
of Cov[r] above sigma^2 is a direction along which a collapsed latent could grow; none means
every collapsed latent is stable against this perturbation.

For a deep decoder the same holds to second order where the network can add w u z_j to its
output (a linear skip path can; an MLP only approximately), and with r averaged over q; it is
taken at the posterior mean here, which is cheaper and deterministic. In our checks on MNIST
the average over q had the larger top eigenvalues, by 2-16 per cent: enough to move a count
where an eigenvalue sits near sigma^2, so read counts there with that margin.
"""

from __future__ import annotations

import torch


def dims_above(eigvals: torch.Tensor, sigma2: float) -> int:
    """How many eigenvalues exceed ``sigma2``: directions along which a collapsed latent would pay
    for its KL. On the residual's covariance spectrum this is ``ppca/residual_dims``."""
    return int((eigvals > sigma2).sum())
