"""Posterior-collapse measurements.

(eps, delta)-collapse (Lucas et al. 2019): latent i is collapsed when
P_x[ KL(q(z_i | x) || p(z_i)) < eps ] >= 1 - delta. Active units (Burda et al. 2016):
latent i is active when Cov_x(E_q[z_i]) > threshold.
"""

from __future__ import annotations

import torch

DEFAULT_EPS = 0.01
DEFAULT_DELTA = 0.01


def collapsed_dims(kl_per_dim: torch.Tensor, eps: float = DEFAULT_EPS, delta: float = DEFAULT_DELTA) -> torch.Tensor:
    """Boolean (k,) mask of (eps, delta)-collapsed dimensions from per-example KLs (N, k)."""
    if eps <= 0:
        raise ValueError(f"eps={eps} must be > 0")
    if not 0 <= delta < 1:
        raise ValueError(f"delta={delta} must be in [0, 1)")
    bad = int((~torch.isfinite(kl_per_dim)).sum())
    if bad:  # NaN < eps is False: such a dimension would silently count as active
        raise ValueError(f"{bad} of the per-example KLs are not finite: collapse is undefined for such a model")
    num = kl_per_dim.shape[0]
    if num == 0:  # every dimension would count as collapsed
        raise ValueError("no examples: collapse is measured over the examples' KLs")
    below = (kl_per_dim < eps).sum(0)
    # A count against (1 - delta) N, less a margin: (1 - 0.07) * 1000 is 929.9999999999999 in floating point.
    return below >= (1.0 - delta) * num - 1e-9


def collapse_curve(kl_per_dim: torch.Tensor, eps_grid: torch.Tensor, delta: float = DEFAULT_DELTA) -> torch.Tensor:
    """Fraction of collapsed dimensions for every eps of a grid: the paper's collapse plot."""
    return torch.stack([collapsed_dims(kl_per_dim, float(e), delta).double().mean() for e in eps_grid])


def count_active_dims(kl_per_dim: torch.Tensor, eps: float = DEFAULT_EPS, delta: float = DEFAULT_DELTA) -> int:
    """The number of latent dimensions that are not (eps, delta)-collapsed."""
    return int((~collapsed_dims(kl_per_dim, eps, delta)).sum())


def count_active_units(posterior_means: torch.Tensor, threshold: float = 0.01) -> int:
    """Active units: dimensions whose posterior mean varies across the data by more than ``threshold``."""
    return int((posterior_means.var(0, unbiased=False) > threshold).sum())
