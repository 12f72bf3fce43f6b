"""Passes outside the Trainer bring the float32 CPU batches to the model's dtype and device."""

from __future__ import annotations

import math

import pytest
import torch

from vae_collapse.models import LearnedNoise
from vae_collapse.models.deep_vae import MLPVAE
from vae_collapse.reporting.artifacts import write_run_artifacts
from vae_collapse.training.evaluate import evaluate, iwae_log_px, measure_collapse, residual_spectrum

SHAPE = (1, 4, 4)


def _float64_model() -> MLPVAE:
    torch.manual_seed(0)
    # As trainer.precision=64-true leaves it after training.
    return MLPVAE(16, SHAPE, LearnedNoise(0.5), latent_dim=3, hidden=[8]).double()


def _batches() -> list[torch.Tensor]:
    torch.manual_seed(1)
    return list(torch.rand(12, 16).split(5))  # float32, as the data modules hold every split


def test_a_float64_model_is_measured_on_float32_batches(tmp_path):
    model = _float64_model()
    result = evaluate(model, _batches(), "val")
    assert math.isfinite(result.metrics["val/elbo"]) and result.kl_per_dim.shape == (12, 3)
    assert math.isfinite(iwae_log_px(model, _batches(), num_samples=4))
    # Both branches: fewer rows than pixels (kept residuals) and at least as many (streamed moments).
    assert residual_spectrum(model, _batches(), 12, 16).shape == (16,)
    assert residual_spectrum(model, _batches()[:1] * 4, 20, 16).shape == (16,)
    collapse = measure_collapse(result, 0.01, 0.01, torch.logspace(-3, 0, 4))
    examples = torch.cat(_batches())
    files = write_run_artifacts(tmp_path, "val", collapse, model, examples, SHAPE, 0.01, 0.01, [], 7)
    assert files["reconstructions"].is_file() and files["samples"].is_file()


def test_a_linear_model_is_measured_in_float64_where_float32_rounds_its_gap_below_zero():
    from vae_collapse.maths.moments import data_moments
    from vae_collapse.models import LearnedNoise, LinearVAE
    from vae_collapse.training.evaluate import evaluate
    from vae_collapse.training.measurements import in_float64_where_exact

    x = torch.rand(2000, 784, generator=torch.Generator().manual_seed(0)) ** 3
    model = LinearVAE(784, 20, LearnedNoise(1.0))
    model.fit_closed_form(data_moments(x.double()))  # pPCA's optimum: log p(x) - ELBO is 0
    model = model.float()
    in_float32 = evaluate(model, [x], "train").metrics["train/elbo_gap"]
    measured = in_float64_where_exact(model)
    gap = evaluate(measured, [x], "train").metrics["train/elbo_gap"]
    assert in_float32 < -1e-5  # what the runs reported: an ELBO above log p(x)
    assert abs(gap) < 1e-9
    assert next(model.parameters()).dtype == torch.float32  # the trained model itself is left as it was


@pytest.mark.parametrize("rank, said", [(0, True), (1, False)])
def test_a_long_iwae_bound_is_announced_off_a_terminal_once(monkeypatch, capsys, rank, said):
    from lightning.pytorch.utilities import rank_zero_only

    from vae_collapse.models import FixedNoise, LinearVAE
    from vae_collapse.training import measurements

    monkeypatch.setattr(measurements, "ANNOUNCE_IWAE_FROM", 100)
    monkeypatch.setattr(rank_zero_only, "rank", rank)
    x = torch.randn(20, 6)
    measurements._iwae_with_progress(LinearVAE(6, 2, FixedNoise(1.0)), [x], 20, 10, 0)
    line = "vae-collapse: measuring test/log_px_iwae with K=10 on 20 test images (eval.iwae_samples=0 skips it"
    assert (line in capsys.readouterr().out) is said
