"""ppca/residual_dims: the linear theory's test on a model's residual, checked in float64.

Two closed forms: the residual spectrum of the pPCA optimum, and the exact change of the linear
VAE's ELBO when a collapsed latent is opened along a residual direction.
"""

from __future__ import annotations

import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.linear_vae import LinearVAEParams, analytic_elbo_from_moments, optimal_encoder
from vae_collapse.maths.moments import covariance_eigenvalues, data_moments
from vae_collapse.maths.residual import dims_above

SIGMA2 = 2.0


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _data(n=10, num=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(2.5, 0.3, n)
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=g))
    return (torch.randn(num, n, generator=g) * scales) @ basis.T + torch.randn(n, generator=g)


def _optimum(x, k, sigma2=SIGMA2):
    spec = ppca.spectrum(data_moments(x))
    W = ppca.ppca_ml(spec, k, sigma2).W
    V, b, log_d = optimal_encoder(W, spec.mean, sigma2)
    return spec, LinearVAEParams(W=W, mu=spec.mean, V=V, b=b, log_d=log_d, sigma2=torch.tensor(sigma2))


def _residual(x, p):
    return x - ((x @ p.V.T + p.b) @ p.W.T + p.mu)


def _elbo(moments, p):
    recon, kl = analytic_elbo_from_moments(moments, p)
    return float(recon - kl)


@pytest.mark.parametrize("k", [1, 3, 5, 8])
def test_the_ppca_optimum_leaves_exactly_its_missing_directions_above_sigma2(k):
    x = _data()
    spec, p = _optimum(x, k)
    lam = spec.eigvals
    above = int((lam > SIGMA2).sum())
    assert 2 <= above <= 6  # the data straddles sigma^2, so k covers both sides
    # A used direction keeps sigma^2/lambda of its coordinate (variance sigma^4/lambda < sigma^2);
    # every other keeps its eigenvalue.
    used = torch.arange(lam.shape[0]) < min(k, above)
    expected = torch.where(used, SIGMA2**2 / lam, lam).sort(descending=True).values
    got = covariance_eigenvalues(_residual(x, p))
    assert torch.allclose(got, expected, atol=1e-10)
    assert dims_above(got, SIGMA2) == max(above - k, 0)


def _open_latent(p, j, u, residual_map, xbar, w, a):
    """Decoder column j += w u; encoder mean of z_j += a u^T (r(x) - mean r) with r = residual_map x."""
    row = u @ residual_map
    W, V, b = p.W.clone(), p.V.clone(), p.b.clone()
    W[:, j] += w * u
    V[j] += a * row
    b[j] -= a * row @ xbar
    return LinearVAEParams(W=W, mu=p.mu, V=V, b=b, log_d=p.log_d, sigma2=p.sigma2)


def _collapsed_latent(x, k, j):
    """The pPCA optimum with latent j set to the prior (zero column, zero encoder row, variance 1)."""
    spec, p = _optimum(x, k)
    W, V, b, log_d = p.W.clone(), p.V.clone(), p.b.clone(), p.log_d.clone()
    W[:, j] = 0.0
    V[j] = 0.0
    b[j] = 0.0
    log_d[j] = 0.0
    p = LinearVAEParams(W=W, mu=p.mu, V=V, b=b, log_d=log_d, sigma2=p.sigma2)
    residual_map = torch.eye(x.shape[1]) - p.W @ p.V  # r(x) = (I - W V)(x - xbar)
    return spec, p, residual_map


@pytest.mark.parametrize("w,a", [(0.3, 0.2), (-0.1, 0.4), (0.05, -0.02), (0.5, 0.5)])
def test_opening_a_collapsed_latent_changes_the_elbo_by_the_quadratic_form(w, a):
    x = _data()
    moments = data_moments(x)
    spec, p, residual_map = _collapsed_latent(x, k=4, j=1)
    residual_cov = residual_map @ moments.cov @ residual_map.T
    lam_all, vecs = torch.linalg.eigh(residual_cov)
    u, lam = vecs[:, -1], float(lam_all[-1])
    assert lam == pytest.approx(float(spec.eigvals[1]))  # the direction latent 1 gave up
    changed = _open_latent(p, 1, u, residual_map, moments.mean, w, a)
    # Exact for a linear decoder: the module docstring's quadratic form plus one quartic term.
    expected = w * a * lam / SIGMA2 - w**2 / (2 * SIGMA2) - a**2 * lam / 2 - (w * a) ** 2 * lam / (2 * SIGMA2)
    assert _elbo(moments, changed) - _elbo(moments, p) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_a_latent_opens_exactly_where_the_residual_exceeds_sigma2():
    x = _data()
    moments = data_moments(x)
    # Latent 1 pushed back to the prior: its direction (lambda_2 > sigma^2) is back in the residual.
    spec, p, residual_map = _collapsed_latent(x, k=4, j=1)
    residual_eigvals = covariance_eigenvalues(_residual(x, p))
    assert dims_above(residual_eigvals, SIGMA2) == int((spec.eigvals > SIGMA2).sum()) - 3
    u = spec.eigvecs[:, 1]
    for t in (1e-3, 1e-2):  # a = w / sigma^2: the ELBO's curvature is pPCA's (lambda - sigma^2) / sigma^4
        opened = _open_latent(p, 1, u, residual_map, moments.mean, t, t / SIGMA2)
        assert _elbo(moments, opened) > _elbo(moments, p)

    # The optimum with a spare latent: nothing in its residual is above sigma^2, and no small
    # opening of the spare latent along any residual direction raises the ELBO.
    above = int((spec.eigvals > SIGMA2).sum())
    spec, p = _optimum(x, above + 1)
    j = above  # the zero column
    assert float(p.W[:, j].abs().max()) == 0.0
    residual_map = torch.eye(x.shape[1]) - p.W @ p.V
    assert dims_above(covariance_eigenvalues(_residual(x, p)), SIGMA2) == 0
    g = torch.Generator().manual_seed(3)
    base = _elbo(moments, p)
    for _ in range(20):
        u = torch.randn(x.shape[1], generator=g)
        u /= u.norm()
        w, a = (0.05 * torch.randn(2, generator=g)).tolist()
        assert _elbo(moments, _open_latent(p, j, u, residual_map, moments.mean, w, a)) < base
