"""Identity 7: gradient ascent on the linear VAE's ELBO finds pPCA's optimum, identifiably."""

from __future__ import annotations

import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.moments import data_moments
from vae_collapse.models import FixedNoise, LearnedNoise, LinearVAE


def _synthetic(n=8, num=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    W = basis[:, :3] * torch.tensor([3.0, 2.0, 1.4], dtype=torch.float64)
    z = torch.randn(num, 3, generator=g, dtype=torch.float64)
    return z @ W.T + 0.5 + 0.3 * torch.randn(num, n, generator=g, dtype=torch.float64)


def _train(model, x, steps, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for _ in range(steps):
        opt.zero_grad()
        loss = -model(x).elbo.mean()
        loss.backward()
        opt.step()
        sched.step()


def test_gradient_training_reaches_ppca_optimum_with_learned_sigma2():
    torch.manual_seed(0)
    x = _synthetic()
    k = 3
    spec = ppca.spectrum(data_moments(x))
    optimum = ppca.ppca_ml(spec, k)
    model = LinearVAE(x.shape[1], k, LearnedNoise(init=1.0)).double()
    _train(model, x, steps=4000, lr=0.02)
    with torch.no_grad():
        elbo = float(model(x).elbo.mean())
        sigma2 = float(model.noise.sigma2())
        W = model.decoder.W.detach()
    assert elbo == pytest.approx(optimum.log_px, abs=1e-4)
    assert sigma2 == pytest.approx(optimum.sigma2, rel=1e-3)
    # Identifiable: orthogonal columns, each on one of the top-k eigenvectors.
    gram = W.T @ W
    off_diagonal = gram - torch.diag(torch.diagonal(gram))
    assert float(off_diagonal.abs().max()) < 1e-3 * float(torch.diagonal(gram).max())
    cosines = (spec.eigvecs[:, :k].T @ W).abs() / W.norm(dim=0)
    assert torch.all(cosines.max(dim=0).values > 0.999)
    assert sorted(cosines.argmax(dim=0).tolist()) == list(range(k))


def test_fixed_sigma2_training_collapses_directions_below_sigma2():
    torch.manual_seed(1)
    x = _synthetic()
    k = 4
    sigma2 = 2.5  # between the 2nd and 3rd eigenvalues of this data
    spec = ppca.spectrum(data_moments(x))
    expected_active = ppca.predicted_active_dims(spec.eigvals, sigma2, k)
    assert expected_active == 2
    model = LinearVAE(x.shape[1], k, FixedNoise(sigma2)).double()
    _train(model, x, steps=3000, lr=0.02)
    norms = model.decoder.W.detach().square().sum(0).sort(descending=True).values
    assert torch.allclose(norms, torch.clamp(spec.eigvals[:k] - sigma2, min=0), atol=2e-3)
