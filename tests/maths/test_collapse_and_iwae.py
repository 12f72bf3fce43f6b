"""Collapse metrics on hand-built posteriors, and the IWAE bound against exact values."""

from __future__ import annotations

import math

import pytest
import torch

from vae_collapse.maths.collapse import collapse_curve, collapsed_dims, count_active_dims, count_active_units
from vae_collapse.maths.gaussian import kl_to_standard_normal
from vae_collapse.maths.iwae import iwae_bound, merge_iwae
from vae_collapse.maths.moments import data_moments
from vae_collapse.models import FixedNoise, LinearVAE
from vae_collapse.training.evaluate import evaluate, iwae_log_px


def _hand_built_kls(num=1000):
    """Dimension 0: the prior itself (KL 0); 1: informative; 2: KL 0.005 everywhere;
    3: KL 0 on 98.5% of examples, large on 1.5%; 4: KL 0 on 99.5%, large on 0.5%."""
    mean = torch.zeros(num, 5, dtype=torch.float64)
    var = torch.ones(num, 5, dtype=torch.float64)
    mean[:, 1] = torch.linspace(-2, 2, num)
    var[:, 1] = 0.1
    mean[:, 2] = math.sqrt(0.01)  # KL = m^2 / 2 = 0.005
    mean[: int(0.015 * num), 3] = 3.0
    mean[: int(0.005 * num), 4] = 3.0
    return kl_to_standard_normal(mean, var), mean


def test_eps_delta_collapse_on_known_posteriors():
    kl, mean = _hand_built_kls()
    assert collapsed_dims(kl, eps=0.01, delta=0.01).tolist() == [True, False, True, False, True]
    assert count_active_dims(kl, 0.01, 0.01) == 2
    # a tighter eps un-collapses dimension 2; a looser delta collapses dimension 3
    assert collapsed_dims(kl, eps=0.001, delta=0.01).tolist() == [True, False, False, False, True]
    assert collapsed_dims(kl, eps=0.01, delta=0.02).tolist() == [True, False, True, True, True]
    assert count_active_units(mean) == 3  # dims 1, 3 and 4 have varying means (4: var 0.045)


def test_a_dimension_informative_on_exactly_delta_of_the_examples_is_collapsed():
    # P[KL < eps] >= 1 - delta: with N = 100, one example in a hundred above eps still collapses at
    # delta = 0.01 (the boundary belongs to "collapsed"), two do not; and KL equal to eps is not below it.
    kl = torch.zeros(100, 3, dtype=torch.float64)
    kl[0, 0] = 1.0
    kl[:2, 1] = 1.0
    kl[:, 2] = 0.01
    assert collapsed_dims(kl, eps=0.01, delta=0.01).tolist() == [True, False, False]
    assert collapsed_dims(kl, eps=0.02, delta=0.01).tolist() == [True, False, True]


def test_collapse_over_no_examples_is_refused():
    with pytest.raises(ValueError, match="no examples"):  # not "every dimension collapsed"
        collapsed_dims(torch.zeros(0, 4, dtype=torch.float64))


def test_collapse_curve_is_monotone_in_eps():
    kl, _ = _hand_built_kls()
    grid = torch.logspace(-4, 1, 30)
    curve = collapse_curve(kl, grid)
    assert torch.all(curve[1:] >= curve[:-1])
    # at tiny eps: the prior itself (0) and dimension 4, whose rare KLs fit inside delta
    assert float(curve[0]) == pytest.approx(2 / 5)
    assert float(curve[-1]) == pytest.approx(1.0)  # every KL here is below 10 nats


def test_iwae_bound_merges_chunks_exactly():
    g = torch.Generator().manual_seed(0)
    log_w = torch.randn(100, 7, generator=g, dtype=torch.float64)
    whole = iwae_bound(log_w)
    merged = merge_iwae([iwae_bound(log_w[:30]), iwae_bound(log_w[30:])], [30, 70])
    assert torch.allclose(whole, merged, atol=1e-12)
    assert torch.all(whole >= log_w.mean(0))  # Jensen: above the average log weight


def test_iwae_on_the_linear_vae_lies_above_the_elbo_and_matches_exact_log_px():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64)
    model = LinearVAE(6, 3, FixedNoise(0.5)).double()
    model.fit_closed_form(data_moments(x))
    with torch.no_grad():  # move the encoder off its optimum so that the ELBO is loose
        model.encoder.V.mul_(0.9)
    result = evaluate(model, [x], "test")
    exact = result.metrics["test/log_px"]
    elbo = result.metrics["test/elbo"]
    assert exact - elbo > 0.01
    few = iwae_log_px(model, [x], num_samples=5)
    many = iwae_log_px(model, [x], num_samples=5000)
    assert elbo < few < many <= exact + 0.005
    assert many == pytest.approx(exact, abs=0.01)


def test_linear_vae_iwae_weights_equal_the_generic_decoder_path():
    """The O(k^2)-per-sample shortcut gives the same log weights as decoding every sample (float64)."""
    from vae_collapse.models import GaussianVAE, LearnedNoise, LinearVAE

    torch.manual_seed(1)
    model = LinearVAE(7, 3, LearnedNoise(0.3)).double()
    with torch.no_grad():
        model.decoder.mu.normal_()  # the encoder's bias -V mu moves with it
        model.encoder.V.normal_()
    x = torch.randn(11, 7, dtype=torch.float64)
    torch.manual_seed(5)
    fast = model.log_joint_over_q(x, 13)
    torch.manual_seed(5)
    generic = GaussianVAE.log_joint_over_q.__get__(model)  # same weights, GaussianVAE's squared error
    model_sq = model.sampled_squared_error
    try:
        model.sampled_squared_error = GaussianVAE.sampled_squared_error.__get__(model)
        slow = generic(x, 13)
    finally:
        model.sampled_squared_error = model_sq
    assert fast.shape == (13, 11)
    assert torch.allclose(fast, slow, rtol=1e-10, atol=1e-10)
    # Passing the posterior (as IWAE does, once per batch) changes nothing.
    torch.manual_seed(5)
    assert torch.allclose(model.log_joint_over_q(x, 13, posterior=model.encoder(x)), fast, rtol=0, atol=0)


def test_iwae_progress_counts_every_example_once_and_changes_nothing(monkeypatch):
    import vae_collapse.training.evaluate as evaluate_module

    monkeypatch.setattr(evaluate_module, "_IWAE_ELEMENTS", 30 * 1024 * 7)  # 7 samples a chunk for 30 examples
    x = torch.randn(30, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    model = LinearVAE(6, 3, FixedNoise(0.5)).double()
    done: list[float] = []
    torch.manual_seed(0)
    with_bar = iwae_log_px(model, [x[:10], x[10:]], num_samples=20, progress=done.append)
    torch.manual_seed(0)
    without = iwae_log_px(model, [x[:10], x[10:]], num_samples=20)
    assert with_bar == without
    assert len(done) > 2 and sum(done) == pytest.approx(30.0)  # moves within a batch, ends at the image count


def test_the_collapse_curve_uses_its_delta():
    kl, _ = _hand_built_kls()
    grid = torch.tensor([0.01], dtype=torch.float64)
    # Dimension 3 (informative on 1.5% of the examples) is collapsed at delta = 0.02 only.
    assert float(collapse_curve(kl, grid, delta=0.01)[0]) == pytest.approx(3 / 5)
    assert float(collapse_curve(kl, grid, delta=0.02)[0]) == pytest.approx(4 / 5)


def test_active_units_take_the_population_variance_strictly_above_the_threshold():
    # Means +-1/8 on half the examples each: population variance exactly 1/64, the sample variance above it.
    means = torch.tensor([[0.125], [-0.125]] * 50, dtype=torch.float64)
    assert count_active_units(means, threshold=1 / 64) == 0
    assert count_active_units(means, threshold=1 / 64 - 1e-9) == 1


def test_iwae_and_exact_log_px_use_the_schedules_sigma2_at_the_step():
    from vae_collapse.models import AnnealedNoise

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(150, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64)
    model = LinearVAE(6, 3, AnnealedNoise(start=4.0, end=0.5, steps=10)).double()
    model.fit_closed_form(data_moments(x))  # at sigma^2 = 4.0, the schedule's step 0
    end = LinearVAE(6, 3, FixedNoise(0.5)).double()
    end.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("noise.")}, strict=False)
    exact_at_end = evaluate(end, [x], "test").metrics["test/log_px"]
    assert evaluate(model, [x], "test", step=10).metrics["test/log_px"] == pytest.approx(exact_at_end, abs=1e-9)
    assert abs(evaluate(model, [x], "test", step=0).metrics["test/log_px"] - exact_at_end) > 0.5
    assert iwae_log_px(model, [x], num_samples=5000, step=10) == pytest.approx(exact_at_end, abs=0.02)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_kl_is_refused_not_counted_as_active(bad):
    kl = torch.zeros(100, 3, dtype=torch.float64)
    kl[5, 1] = bad  # dimension 1 is collapsed everywhere else
    with pytest.raises(ValueError, match="1 of the per-example KLs are not finite"):
        count_active_dims(kl)
