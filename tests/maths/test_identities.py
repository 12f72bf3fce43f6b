"""The identities of paper-notes.md, checked in float64 against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.collapse import count_active_dims
from vae_collapse.maths.linear_vae import (
    LinearVAEParams,
    analytic_elbo_from_moments,
    analytic_elbo_terms,
    optimal_encoder,
    optimal_encoder_gap,
)
from vae_collapse.maths.moments import data_moments



@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _data(n=12, num=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(3.0, 0.2, n)
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=g))
    x = (torch.randn(num, n, generator=g) * scales) @ basis.T + torch.randn(n, generator=g)
    return x


def _random_params(n, k, seed=1, sigma2=0.7):
    g = torch.Generator().manual_seed(seed)
    return LinearVAEParams(
        W=torch.randn(n, k, generator=g) * 0.5,
        mu=torch.randn(n, generator=g),
        V=torch.randn(k, n, generator=g) * 0.3,
        b=torch.randn(k, generator=g),
        log_d=torch.randn(k, generator=g) * 0.5,
        sigma2=torch.tensor(sigma2),
    )


def _ml_params(x, k, sigma2=None, rotation=None):
    moments = data_moments(x)
    sol = ppca.ppca_ml(ppca.spectrum(moments), k, sigma2)
    W = sol.W if rotation is None else sol.W @ rotation
    V, b, log_d = optimal_encoder(W, sol.mu, sol.sigma2)
    return moments, sol, LinearVAEParams(W=W, mu=sol.mu, V=V, b=b, log_d=log_d, sigma2=torch.tensor(sol.sigma2))


def test_1_per_example_average_equals_covariance_form():
    x = _data()
    p = _random_params(x.shape[1], 4)
    recon, kl_dim = analytic_elbo_terms(x, p)
    recon_m, kl_m = analytic_elbo_from_moments(data_moments(x), p)
    assert torch.allclose(recon.mean(), recon_m, rtol=1e-12, atol=0)
    assert torch.allclose(kl_dim.sum(-1).mean(), kl_m, rtol=1e-12, atol=0)


def test_2_analytic_elbo_equals_monte_carlo():
    x = _data(num=50)
    p = _random_params(x.shape[1], 4)
    recon, _ = analytic_elbo_terms(x, p)
    g = torch.Generator().manual_seed(3)
    samples = 20000
    z_mean = x @ p.V.T + p.b
    eps = torch.randn(samples, *z_mean.shape, generator=g)
    z = z_mean + torch.exp(0.5 * p.log_d) * eps
    sq = (x - z @ p.W.T - p.mu).square().sum(-1)
    n = x.shape[1]
    mc = -0.5 * (sq / p.sigma2 + n * math.log(2 * math.pi * p.sigma2))
    stderr = mc.std(0) / math.sqrt(samples)
    assert torch.all((mc.mean(0) - recon).abs() < 5 * stderr + 1e-9)


@pytest.mark.parametrize("sigma2", [None, 0.5])
def test_3_elbo_at_ml_solution_equals_log_likelihood(sigma2):
    x = _data()
    moments, sol, p = _ml_params(x, 4, sigma2)
    recon, kl = analytic_elbo_from_moments(moments, p)
    exact = ppca.average_log_likelihood(moments, p.W, p.mu, p.sigma2)
    assert float(recon - kl) == pytest.approx(sol.log_px, rel=1e-12, abs=1e-10)
    assert float(exact) == pytest.approx(sol.log_px, rel=1e-12, abs=1e-10)
    assert float(ppca.log_likelihood(x, p.W, p.mu, p.sigma2).mean()) == pytest.approx(sol.log_px, rel=1e-11)


def test_3b_learned_sigma2_optimum_matches_tipping_bishop_formula():
    x = _data()
    k = 4
    spec = ppca.spectrum(data_moments(x))
    sol = ppca.ppca_ml(spec, k)
    n = x.shape[1]
    s2 = spec.eigvals[k:].mean()
    closed = -(n / 2) * (1 + math.log(2 * math.pi)) - 0.5 * torch.log(spec.eigvals[:k]).sum() - (n - k) / 2 * torch.log(s2)
    assert sol.log_px == pytest.approx(float(closed), rel=1e-12)


def test_4_rotation_keeps_likelihood_but_opens_the_gap():
    x = _data()
    k = 4
    g = torch.Generator().manual_seed(5)
    R, _ = torch.linalg.qr(torch.randn(k, k, generator=g))
    moments, sol, p = _ml_params(x, k, rotation=R)
    WtW = p.W.T @ p.W
    assert (WtW - torch.diag(torch.diagonal(WtW))).abs().max() > 1e-3  # really non-orthogonal
    exact = ppca.average_log_likelihood(moments, p.W, p.mu, p.sigma2)
    assert float(exact) == pytest.approx(sol.log_px, rel=1e-12)
    recon, kl = analytic_elbo_from_moments(moments, p)
    gap = exact - (recon - kl)
    expected_gap = optimal_encoder_gap(p.W, p.sigma2)
    assert float(expected_gap) > 1e-4
    assert float(gap) == pytest.approx(float(expected_gap), rel=1e-9)


# The top six eigenvalues of this data are about 9.2, 7.4, 6.2, 5.1, 4.0 and 3.0.
@pytest.mark.parametrize(("sigma2", "expected_active"), [(0.05, 6), (2.0, 6), (4.5, 4), (5.5, 3), (20.0, 0)])
def test_5_fixed_sigma2_collapse_pattern(sigma2, expected_active):
    x = _data(n=12, num=4000)
    k = 6
    moments, sol, p = _ml_params(x, k, sigma2)
    lam = ppca.spectrum(moments).eigvals
    col_norms = p.W.square().sum(0)
    assert torch.allclose(col_norms, torch.clamp(lam[:k] - sigma2, min=0), atol=1e-10)
    assert sol.active_dims == expected_active
    # The closed-form value is the exact likelihood of that W (Woodbury, not the eigenvalue formula).
    exact = ppca.average_log_likelihood(moments, p.W, p.mu, sigma2)
    assert sol.log_px == pytest.approx(float(exact), rel=1e-12)
    _, kl_dim = analytic_elbo_terms(x, p)
    expected_kl = torch.where(lam[:k] > sigma2, 0.5 * torch.log(lam[:k] / sigma2), torch.zeros(k))
    assert torch.allclose(kl_dim.mean(0), expected_kl, atol=1e-9)
    assert count_active_dims(kl_dim, eps=1e-6, delta=0.01) == expected_active


def test_6_curvature_at_zero_column():
    x = _data()
    k = 3
    moments = data_moments(x)
    spec = ppca.spectrum(moments)
    for sigma2 in (0.3, 1.0, 4.0):
        # A stationary point: columns 0 and 1 on u_0, u_1 (if above sigma2), column 2 zero.
        K = torch.clamp(spec.eigvals[:2] - sigma2, min=0).sqrt()
        W0 = torch.zeros(x.shape[1], k)
        W0[:, :2] = spec.eigvecs[:, :2] * K
        m = 5
        u_m = spec.eigvecs[:, m]

        def l(eps):
            W = W0.clone()
            W[:, 2] = eps * u_m
            return ppca.average_log_likelihood(moments, W, spec.mean, sigma2)

        eps = torch.tensor(1e-3)
        second = (l(eps) - 2 * l(torch.tensor(0.0)) + l(-eps)) / eps**2
        expected = (spec.eigvals[m] - sigma2) / sigma2**2
        assert float(second) == pytest.approx(float(expected), rel=1e-4, abs=1e-6)
        for e in (0.1, 0.7):
            change = l(torch.tensor(e)) - l(torch.tensor(0.0))
            closed = ppca.zero_column_profile(spec.eigvals[m], sigma2, torch.tensor(e))
            assert float(change) == pytest.approx(float(closed), rel=1e-9, abs=1e-12)


def test_a_flat_spectrum_leaves_no_direction_active_at_its_own_sigma2_ml():
    # sigma2_ML is the mean of equal eigenvalues and rounds a hair below them for this one
    flat = torch.full((50,), 0.4188599361756664, dtype=torch.float64)
    sigma2 = ppca.ml_sigma2(flat, 3)
    assert sigma2 < float(flat[0])
    assert ppca.predicted_active_dims(flat, sigma2, 3) == 0
    assert ppca.predicted_active_dims(flat, float(flat[0]) * (1 - 1e-9), 3) == 3


def test_ml_sigma2_rejects_all_zero_tail():
    with pytest.raises(ValueError, match="sigma2_ML = 0.*use a latent size below 2, more data"):
        ppca.ml_sigma2(torch.tensor([3.0, 1.0, 0.0, 0.0]), 2)


def test_ml_sigma2_advice_never_asks_for_a_latent_size_below_one():
    with pytest.raises(ValueError, match="data span 1 dimension, .*; use more data, or a fixed sigma2$"):
        ppca.ml_sigma2(torch.tensor([3.0, 0.0, 0.0]), 1)
    with pytest.raises(ValueError, match="every example is the same point"):
        ppca.ml_sigma2(torch.zeros(3), 1)


@pytest.mark.parametrize("sigma2", [None, 0.7])
def test_the_eigenvalue_only_reference_equals_the_full_solution(sigma2):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(300, 9, generator=g, dtype=torch.float64) @ torch.randn(9, 9, generator=g, dtype=torch.float64)
    moments = data_moments(x)
    full = ppca.ppca_ml(ppca.spectrum(moments), 4, sigma2)
    eigvals = ppca.eigenvalues(moments)
    assert torch.allclose(eigvals, ppca.spectrum(moments).eigvals, rtol=1e-12, atol=1e-12)
    found_sigma2, log_px, active = ppca.optimum(eigvals, 4, sigma2)
    assert (found_sigma2, active) == (pytest.approx(full.sigma2, rel=1e-12), full.active_dims)
    assert log_px == pytest.approx(full.log_px, rel=1e-12)
    # and the closed form is the likelihood of the W it describes
    assert log_px == pytest.approx(float(ppca.average_log_likelihood(moments, full.W, full.mu, full.sigma2)), rel=1e-10)
