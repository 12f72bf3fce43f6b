"""The LinearVAE module against the closed forms, in float64: its stochastic ELBO and its exact log p(x)."""

from __future__ import annotations

import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.models import AnnealedNoise, FixedNoise, LearnedNoise, LinearVAE
from vae_collapse.training.evaluate import evaluate


def _random_model(noise, n=7, k=3, seed=0, encoder="linear") -> LinearVAE:
    torch.manual_seed(seed)
    model = LinearVAE(n, k, noise, encoder=encoder, encoder_hidden=[16]).double()
    with torch.no_grad():  # away from zero everywhere, mu included (the reference notebook's "+ mu" slip)
        model.decoder.W.normal_()
        model.decoder.mu.normal_()
        if encoder == "linear":
            model.encoder.V.normal_(std=0.5)
            model.encoder.log_d.normal_(std=0.5)
    return model


def test_the_forward_pass_is_the_papers_per_example_formula():
    """Written out here, apart from the package's helpers: q = N(V (x - mu), D), p(x|z) = N(W z + mu, sigma^2 I)."""
    import math

    model = _random_model(LearnedNoise(0.7))
    x = torch.randn(20, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 + 1
    terms = model(x, analytic=True)
    W, mu, V = model.decoder.W, model.decoder.mu, model.encoder.V
    D = torch.exp(model.encoder.log_d)
    sigma2 = float(model.noise.sigma2())
    with torch.no_grad():
        m = (x - mu) @ V.T
        squared_error = ((x - m @ W.T - mu) ** 2).sum(1) + torch.trace(torch.diag(D) @ W.T @ W)
        recon = -squared_error / (2 * sigma2) - 7 / 2 * math.log(2 * math.pi * sigma2)
        kl_per_dim = 0.5 * (D + m**2 - 1 - torch.log(D))
    assert torch.allclose(terms.recon, recon, rtol=1e-12, atol=0)
    assert torch.allclose(terms.kl_per_dim, kl_per_dim, rtol=1e-12, atol=1e-15)


# mlp: per-example posterior variances, the other branch of the exact squared error.
@pytest.mark.parametrize("encoder", ["linear", "mlp"])
def test_the_reparameterised_elbo_averages_to_the_analytic_one(encoder):
    model = _random_model(FixedNoise(0.7), encoder=encoder)
    x = torch.randn(20, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 + 1
    analytic = model(x, analytic=True).recon
    torch.manual_seed(2)
    with torch.no_grad():
        draws = model(x.repeat(4000, 1), analytic=False).recon.view(4000, 20)  # (draws, examples)
    mean, sem = draws.mean(0), draws.std(0) / 4000**0.5
    assert torch.all((mean - analytic).abs() < 5 * sem), (mean - analytic) / sem
    # The KL is closed form on both paths.
    assert torch.allclose(model(x, analytic=False).kl, model(x, analytic=True).kl, rtol=0, atol=1e-12)


def test_exact_log_px_uses_the_sigma2_the_elbo_is_scored_at():
    """Under a schedule, log p(x) and the ELBO are at the same step's sigma^2, so log p(x) >= ELBO."""
    noise = AnnealedNoise(start=10.0, end=0.5, steps=100, then="fixed")
    model = _random_model(noise)
    x = torch.randn(50, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    metrics = evaluate(model, [x], "test", step=100).metrics
    assert metrics["test/sigma2"] == 0.5
    with torch.no_grad():
        expected = float(ppca.log_likelihood(x, model.decoder.W, model.decoder.mu, torch.tensor(0.5)).mean())
    assert metrics["test/log_px"] == pytest.approx(expected, rel=1e-12)
    assert metrics["test/elbo_gap"] >= 0


def test_encoder_hidden_is_checked_and_named():
    with pytest.raises(ValueError, match=r"encoder_hidden=\[-1\] must hold positive layer widths"):
        LinearVAE(7, 3, FixedNoise(1.0), encoder="mlp", encoder_hidden=[-1])
    widths = [m.out_features for m in LinearVAE(7, 3, FixedNoise(1.0), encoder="deep_linear").encoder.modules()
              if isinstance(m, torch.nn.Linear)]
    assert widths[0] == 512  # the default hidden width


def test_a_closed_form_fit_under_a_sigma2_floor_is_the_best_linear_vae_at_the_floor():
    """min_sigma2 above sigma^2_ML: sigma^2 sits at the floor, so W must be pPCA's for that sigma^2."""
    from vae_collapse.maths.moments import data_moments
    from vae_collapse.models import LearnedNoise
    from vae_collapse.training.reference import ppca_reference

    x = torch.randn(400, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * torch.arange(1.0, 8.0)
    moments = data_moments(x)
    spec = ppca.spectrum(moments)
    ml = ppca.ml_sigma2(spec.eigvals, 3)
    floor = ml + 2.0
    assert floor < float(spec.eigvals[0])  # one direction still kept at the floor
    model = LinearVAE(7, 3, LearnedNoise(init=floor + 1.0, min_sigma2=floor), fit="closed_form").double()
    model.fit_closed_form(moments, spec)
    fitted = float(model.noise.sigma2())
    assert fitted == pytest.approx(floor, rel=1e-9)
    elbo = evaluate(model, [x], "train").metrics["train/elbo"]
    reference = ppca_reference(spec.eigvals, 3, model.noise)
    assert reference["ppca/sigma2"] == floor
    assert reference["ppca/log_px"] == pytest.approx(ppca.optimum_log_likelihood(spec.eigvals, 3, floor), rel=1e-12)
    assert elbo == pytest.approx(reference["ppca/log_px"], rel=1e-9)  # the optimum at the floor, reached
    assert reference["ppca/log_px"] < ppca.optimum(spec.eigvals, 3)[1]  # below the unconstrained optimum


def test_a_closed_form_fit_with_learned_sigma2_needs_a_latent_size_below_the_data_dimension():
    from vae_collapse.models import LearnedNoise

    with pytest.raises(ValueError, match=r"latent_dim=7 must be below the data dimension 7 .*noise=fixed"):
        LinearVAE(7, 7, LearnedNoise(), fit="closed_form")
    LinearVAE(7, 7, FixedNoise(1.0), fit="closed_form")  # a fixed sigma^2 has an optimum with every direction
