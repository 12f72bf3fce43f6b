"""Passes outside the Trainer bring the float32 CPU batches to the model's dtype and device."""

from __future__ import annotations

import math

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
