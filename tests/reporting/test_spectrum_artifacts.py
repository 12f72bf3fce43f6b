"""data_spectrum.csv and decoder_column_norms.csv: what the report's spectrum figure is drawn from."""

from __future__ import annotations

import csv

import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.moments import data_moments
from vae_collapse.models import FixedNoise, LinearVAE, MLPVAE
from vae_collapse.reporting.artifacts import MAX_SPECTRUM_DIM, spectrum_tables, write_spectrum_artifacts


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_linear_run_writes_the_spectrum_and_its_column_norms(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(300, 6) * torch.tensor([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    model = LinearVAE(data_dim=6, latent_dim=3, sample_shape=(6,), noise=FixedNoise(0.3))
    solution = model.fit_closed_form(data_moments(x))
    files = write_spectrum_artifacts(tmp_path, x, model)
    assert set(files) == {"data_spectrum", "decoder_column_norms"}
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in files.values())  # readable like the PNGs

    spectrum = read_rows(tmp_path / "data_spectrum.csv")
    expected = ppca.spectrum(data_moments(x)).eigvals
    assert [int(r["index"]) for r in spectrum] == [1, 2, 3, 4, 5, 6]
    assert torch.allclose(torch.tensor([float(r["eigenvalue"]) for r in spectrum], dtype=torch.float64), expected)

    norms = torch.tensor([float(r["norm2"]) for r in read_rows(tmp_path / "decoder_column_norms.csv")], dtype=torch.float64)
    # At the fixed-sigma2 optimum the squared column norms are max(lambda_i - sigma2, 0).
    assert torch.allclose(norms, (expected[:3] - 0.3).clamp_min(0), atol=1e-5)
    assert solution.active_dims == int((norms > 1e-8).sum())


def test_deep_model_gets_the_spectrum_only_and_large_images_get_neither(tmp_path):
    model = MLPVAE(data_dim=8, latent_dim=2, sample_shape=(8,), noise=FixedNoise(1.0), hidden=[4])
    assert set(spectrum_tables(torch.rand(20, 8), model)) == {"data_spectrum"}
    assert spectrum_tables(torch.rand(3, MAX_SPECTRUM_DIM + 1), model) == {}


def test_a_linear_run_from_the_console_leaves_both_files(run_cli, tmp_path):
    result = run_cli("dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=20", "logger=csv",
                     "eval.iwae_samples=0", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(read_rows(tmp_path / "run" / "data_spectrum.csv")) == 20
    assert len(read_rows(tmp_path / "run" / "decoder_column_norms.csv")) == 3


def _ppca_optimum_run(tmp_path, latent_dim, **eval_settings):
    from vae_collapse.data import SyntheticPPCADataModule
    from vae_collapse.training.measurements import EvalSettings, final_measurements

    # Eigenvalues about 8.1, 4.1, 2.1, 1.1, 0.6 and 0.1 (the noise): three above sigma^2 = 1.5.
    data = SyntheticPPCADataModule(data_dim=12, spectrum=[8.0, 4.0, 2.0, 1.0, 0.5], sigma2=0.1, n_train=4000,
                                   n_test=0, seed=0)
    data.prepare_data()
    data.setup("fit")
    model = LinearVAE(data_dim=12, latent_dim=latent_dim, sample_shape=(12,), noise=FixedNoise(1.5))
    with torch.no_grad():
        model.fit_closed_form(data_moments(data.train_data))
    settings = EvalSettings(iwae_samples=0, **eval_settings)
    return final_measurements(model, data, settings, tmp_path, [], step=0)


def test_residual_dims_count_the_directions_a_too_small_linear_vae_leaves_out(tmp_path):
    """At the pPCA optimum: none with latents to spare, the missing ones without."""
    metrics, files = _ppca_optimum_run(tmp_path / "spare", latent_dim=5)
    assert metrics["train/sigma2"] == 1.5 and metrics["ppca/residual_dims"] == 0
    metrics, files = _ppca_optimum_run(tmp_path / "short", latent_dim=1)
    assert metrics["ppca/residual_dims"] == 2
    rows = read_rows(files["residual_spectrum"])
    assert sum(float(r["eigenvalue"]) > metrics["train/sigma2"] for r in rows) == 2
    assert files["spectrum"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_residual_examples_zero_skips_the_measurement(tmp_path):
    metrics, files = _ppca_optimum_run(tmp_path, latent_dim=2, residual_examples=0)
    assert "ppca/residual_dims" not in metrics
    assert "residual_spectrum" not in files and not (tmp_path / "spectrum.png").exists()


def test_a_runs_own_figures_say_which_sigma2_latent_size_and_step_they_show():
    from vae_collapse.models import AnnealedNoise, KLAnnealing, LearnedNoise, OptimalNoise
    from vae_collapse.reporting.artifacts import run_context

    fixed = MLPVAE(data_dim=8, latent_dim=2, sample_shape=(8,), noise=FixedNoise(2.0), hidden=[4])
    assert run_context(fixed, 8000) == "σ² = 2 (fixed), k = 2, step 8000"
    learned = MLPVAE(data_dim=8, latent_dim=3, sample_shape=(8,), noise=LearnedNoise(init=0.5, min_sigma2=0.0), hidden=[4])
    assert run_context(learned, 10) == "σ² = 0.5 (learned), k = 3, step 10"
    warm = MLPVAE(data_dim=8, latent_dim=2, sample_shape=(8,), noise=KLAnnealing(FixedNoise(0.1), warmup_steps=5), hidden=[4])
    assert run_context(warm, 3) == "σ² = 0.1 (KL warm-up), k = 2, step 3"
    warm_learned = MLPVAE(data_dim=8, latent_dim=2, sample_shape=(8,), hidden=[4],
                          noise=KLAnnealing(LearnedNoise(init=0.5, min_sigma2=0.0), warmup_steps=5))
    assert run_context(warm_learned, 3) == "σ² = 0.5 (KL warm-up, learned σ²), k = 2, step 3"
    optimal = MLPVAE(data_dim=8, latent_dim=2, sample_shape=(8,), noise=OptimalNoise(), hidden=[4])
    optimal.noise.sigma2_for(torch.tensor([4.0, 4.0]), 8)
    assert "(optimal)" in run_context(optimal.eval(), 3)
    annealing = MLPVAE(data_dim=8, latent_dim=2, sample_shape=(8,), hidden=[4],
                       noise=AnnealedNoise(start=4.0, end=0.25, steps=100, then="learned"))
    assert "(annealed)" in run_context(annealing, 50)


def test_a_closed_form_fit_is_reported_on_the_principal_directions_and_a_short_run_not(run_cli, tmp_path):
    """train/aligned_columns and friends: the pPCA fit is the ELBO's identifiable maximum; 3 steps are not."""
    import json

    quick = ("dataset=synthetic_ppca", "model.latent_dim=3", "logger=csv", "eval.iwae_samples=0",
             "trainer.enable_progress_bar=false")
    assert run_cli(*quick, "model=ppca", "hydra.run.dir=fit").returncode == 0
    fit = json.loads((tmp_path / "fit" / "summary.json").read_text())["metrics"]
    assert fit["train/aligned_columns"] == 3 and fit["train/column_alignment"] > 1 - 1e-6
    assert fit["train/gram_off_diagonal"] < 1e-6
    result = run_cli(*quick, "trainer.max_steps=3", "hydra.run.dir=short")
    assert result.returncode == 0
    short = json.loads((tmp_path / "short" / "summary.json").read_text())["metrics"]
    assert short["train/aligned_columns"] < 3 and short["train/gram_off_diagonal"] > 0.01
    assert f"train/aligned_columns     {short['train/aligned_columns']}" in result.stdout  # in the result table


def test_a_tracked_linear_run_follows_its_columns_onto_the_principal_directions(run_cli, tmp_path):
    result = run_cli("dataset=synthetic_ppca", "model.latent_dim=3", "logger=csv", "eval.iwae_samples=0",
                     "trainer.enable_progress_bar=false", "trainer.max_steps=30", "eval.track_every_n_steps=10",
                     "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_rows(tmp_path / "run" / "alignment_trajectory.csv")
    assert [row["step"] for row in rows] == ["10", "20", "30"] and all(row["used_columns"] == "3" for row in rows)
    header = (tmp_path / "run" / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "track/aligned_columns" in header
    assert ["alignment", "trajectory", str(tmp_path / "run" / "alignment_trajectory.csv")] in [
        line.split() for line in result.stdout.splitlines()]
