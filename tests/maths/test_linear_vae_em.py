"""Variational EM on the linear VAE (maths/linear_vae_em.py, optimizer=em) against pPCA's closed form."""

from __future__ import annotations

import functools

import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.linear_vae import LinearVAEParams, analytic_elbo_from_moments
from vae_collapse.maths.linear_vae_em import OverRelaxedEM, orthogonalise_columns
from vae_collapse.maths.moments import data_moments
from vae_collapse.models import FixedNoise, LearnedNoise, LinearVAE
from vae_collapse.training.em_optimizer import VariationalEM


def _data(n=12, num=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    scales = torch.tensor([3.0, 2.0, 1.5, 1.2], dtype=torch.float64)
    z = torch.randn(num, 4, generator=g, dtype=torch.float64)
    return z @ (basis[:, :4] * scales).T + 0.3 + 0.5 * torch.randn(num, n, generator=g, dtype=torch.float64)


def _random_decoder(n, k, seed=1):
    return 0.01 * torch.randn(n, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("growth", [1.0, 1.1])
def test_em_never_lowers_the_elbo_and_reaches_the_ppca_optimum(growth):
    moments = data_moments(_data())
    k = 3
    optimum = ppca.ppca_ml(ppca.spectrum(moments), k)
    ascent = OverRelaxedEM(moments.cov, _random_decoder(12, k), 1.0, learn_sigma2=True, growth=growth)
    values = [ascent.state.log_px]
    for _ in range(400):
        values.append(ascent.step().log_px)
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(optimum.log_px, abs=1e-8)
    assert float(ascent.state.sigma2) == pytest.approx(optimum.sigma2, rel=1e-6)


def test_over_relaxation_needs_fewer_steps_than_plain_em():
    moments = data_moments(_data())
    optimum = ppca.ppca_ml(ppca.spectrum(moments), 4).log_px

    def steps_to(growth, tol=1e-6):
        ascent = OverRelaxedEM(moments.cov, _random_decoder(12, 4), 1.0, growth=growth)
        for step in range(1, 5001):
            if optimum - ascent.step().log_px < tol:
                return step
        return 5001

    plain, relaxed = steps_to(1.0), steps_to(1.1)
    assert relaxed < plain <= 5000


def test_fixed_sigma2_em_collapses_exactly_the_directions_below_sigma2():
    moments = data_moments(_data())
    spec = ppca.spectrum(moments)
    k, sigma2 = 4, float(spec.eigvals[1] + spec.eigvals[2]) / 2  # two directions above sigma2
    ascent = OverRelaxedEM(moments.cov, _random_decoder(12, k), sigma2, learn_sigma2=False)
    for _ in range(3000):
        ascent.step()
    norms = ascent.state.W.square().sum(0).sort(descending=True).values
    assert float(ascent.state.sigma2) == sigma2
    assert torch.allclose(norms, torch.clamp(spec.eigvals[:k] - sigma2, min=0), atol=1e-6)
    assert ascent.state.log_px == pytest.approx(ppca.ppca_ml(spec, k, sigma2).log_px, abs=1e-8)


def test_orthogonalised_columns_make_the_diagonal_encoder_exact():
    from vae_collapse.maths.linear_vae import optimal_encoder_gap

    W0 = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    W = orthogonalise_columns(W0)
    gram = W.T @ W
    assert torch.allclose(gram, torch.diag(torch.diagonal(gram)), atol=1e-10)
    assert torch.allclose(W @ W.T, W0 @ W0.T, atol=1e-10)  # a rotation: the same model p(x)
    assert float(optimal_encoder_gap(W0, 0.5)) > 1e-3
    assert float(optimal_encoder_gap(W, 0.5)) == pytest.approx(0.0, abs=1e-12)
    assert torch.all(gram.diagonal()[:-1] >= gram.diagonal()[1:])  # largest column first


def test_the_optimizer_writes_a_model_whose_elbo_is_the_log_likelihood():
    x = _data()
    moments = data_moments(x)
    model = LinearVAE(12, 3, LearnedNoise(init=1.0)).double()
    optimizer = VariationalEM(model.parameters())
    optimizer.attach(model, moments)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer.step()
    assert all(not torch.equal(before[name], p) for name, p in model.named_parameters())
    for _ in range(300):
        optimizer.step()
    with torch.no_grad():
        recon, kl = analytic_elbo_from_moments(moments, model.params())
        log_px = ppca.average_log_likelihood(moments, model.decoder.W, model.decoder.mu, model.noise.sigma2())
        per_example = model(x).elbo.mean()
    assert float(recon - kl) == pytest.approx(float(log_px), abs=1e-8)  # the diagonal encoder is exact
    assert float(per_example) == pytest.approx(float(recon - kl), abs=1e-8)
    assert float(log_px) == pytest.approx(ppca.ppca_ml(ppca.spectrum(moments), 3).log_px, abs=1e-8)


@pytest.mark.parametrize("bad", [
    functools.partial(LinearVAE, 12, 3, LearnedNoise(), encoder="mlp"),
    functools.partial(LinearVAE, 12, 3, LearnedNoise(), elbo="stochastic"),
])
def test_the_optimizer_refuses_models_it_cannot_solve(bad):
    model = bad().double()
    with pytest.raises(ValueError, match="optimizer=em needs model=linear_vae"):
        VariationalEM(model.parameters()).attach(model, data_moments(_data()))


def test_the_optimizer_refuses_a_missing_full_batch():
    model = LinearVAE(12, 3, FixedNoise(1.0)).double()
    with pytest.raises(ValueError, match="full-batch"):
        VariationalEM(model.parameters()).attach(model, None)


def test_a_learned_sigma2_floor_above_sigma2_ml_is_kept_and_its_optimum_reached():
    # The floor is the constrained maximum (pPCA's likelihood rises towards sigma2_ML), so EM must
    # end at pPCA's optimum at the floor, with the encoder fitted to that sigma2, not to EM's own.
    x = _data()
    moments = data_moments(x)
    spec = ppca.spectrum(moments)
    floor = 2.0 * ppca.ml_sigma2(spec.eigvals, 3)
    model = LinearVAE(12, 3, LearnedNoise(init=4.0, min_sigma2=floor)).double()
    optimizer = VariationalEM(model.parameters())
    optimizer.attach(model, moments)
    for _ in range(300):
        optimizer.step()
    with torch.no_grad():
        recon, kl = analytic_elbo_from_moments(moments, model.params())
        assert float(model.noise.sigma2()) == pytest.approx(floor, rel=1e-9)
    assert float(optimizer.ascent.state.sigma2) == pytest.approx(floor, rel=1e-12)
    assert float(recon - kl) == pytest.approx(ppca.ppca_ml(spec, 3, floor=floor).log_px, abs=1e-8)


def test_the_logged_factor_is_the_one_the_last_step_moved_by():
    moments = data_moments(_data())
    plain = OverRelaxedEM(moments.cov, _random_decoder(12, 3), 1.0, growth=1.0)
    relaxed = OverRelaxedEM(moments.cov, _random_decoder(12, 3), 1.0, growth=1.1)
    assert plain.last_factor == relaxed.last_factor == 1.0
    seen = set()
    for _ in range(60):
        plain.step()
        eta = relaxed.eta
        before = relaxed.state.log_px
        relaxed.step()
        assert plain.last_factor == 1.0
        # An accepted over-relaxed step moved by eta and raised eta; a fallback moved by 1.
        assert relaxed.last_factor == (eta if relaxed.eta > eta else 1.0)
        assert relaxed.state.log_px >= before
        seen.add(relaxed.last_factor > 1.0)
    assert True in seen  # over-relaxed steps were accepted
    saved = relaxed.state_dict()
    again = OverRelaxedEM(moments.cov, _random_decoder(12, 3), 1.0, growth=1.1)
    again.load_state_dict(saved)
    assert again.last_factor == relaxed.last_factor and again.eta == relaxed.eta


def test_a_saved_state_below_the_floor_is_taken_up_at_the_floor():
    # Saved before EM kept noise.min_sigma2: every floored step would be refused as lower than it.
    moments = data_moments(_data())
    spec = ppca.spectrum(moments)
    floor = 2.0 * ppca.ml_sigma2(spec.eigvals, 3)
    free = OverRelaxedEM(moments.cov, _random_decoder(12, 3), 1.0)
    for _ in range(300):
        free.step()
    floored = OverRelaxedEM(moments.cov, _random_decoder(12, 3), 1.0, min_sigma2=floor)
    floored.load_state_dict(free.state_dict())
    assert float(floored.state.sigma2) == pytest.approx(floor, rel=1e-12)
    for _ in range(300):
        floored.step()
    assert floored.state.log_px == pytest.approx(ppca.ppca_ml(spec, 3, floor=floor).log_px, abs=1e-8)
