"""The console script as a user runs it: single runs, a multirun, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LINEAR_METRICS = [
    "train/elbo",
    "train/kl",
    "train/recon",
    "train/sigma2",
    "train/log_px",
    "train/elbo_gap",
    "ppca/log_px",
    "ppca/sigma2",
    "ppca/active_dims",
    "collapse/active_dims",
]
QUICK = ["dataset=synthetic_ppca", "model.latent_dim=4", "trainer.max_steps=60", "trainer.enable_progress_bar=false"]


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def test_single_run_writes_summary_with_the_metric_api(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*QUICK, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = _summary(run_dir)
    assert summary["status"] == "completed"
    for name in LINEAR_METRICS:
        assert name in summary["metrics"], name
    assert summary["config"]["model"]["latent_dim"] == 4
    assert summary["metrics"]["train/log_px"] >= summary["metrics"]["train/elbo"]
    assert summary["metrics"]["ppca/log_px"] >= summary["metrics"]["train/log_px"] - 1e-6
    assert list((run_dir / "wandb").glob("offline-run-*")), "no offline W&B run"
    assert (run_dir / "csv" / "metrics.csv").exists()
    assert "Result (completed)" in result.stdout and "summary.json" in result.stdout


def test_closed_form_ppca_run_sits_on_the_optimum(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*QUICK, "model=ppca", "model.latent_dim=4", "noise=fixed", "noise.sigma2=1.5",
                     "logger=csv", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = _summary(run_dir)["metrics"]
    assert metrics["train/elbo"] == pytest.approx(metrics["ppca/log_px"], abs=1e-3)
    assert metrics["train/elbo_gap"] == pytest.approx(0.0, abs=1e-3)
    # The synthetic spectrum is 8, 4, 2, 1, 0.5 over noise 0.1: three directions exceed 1.5.
    assert metrics["ppca/active_dims"] == 3
    assert metrics["collapse/active_dims"] == metrics["ppca/active_dims"]


def test_two_job_multirun_gives_two_runs_and_two_wandb_runs(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("-m", *QUICK, "model.latent_dim=2,3", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = sorted(sweep.glob("*/summary.json"))
    assert len(summaries) == 2
    latents = sorted(json.loads(p.read_text())["config"]["model"]["latent_dim"] for p in summaries)
    assert latents == [2, 3]
    wandb_runs = sorted(sweep.glob("*/wandb/offline-run-*"))
    assert len(wandb_runs) == 2
    assert len({p.name.rsplit("-", 1)[-1] for p in wandb_runs}) == 2, "both jobs logged into one W&B run"
    for path in summaries:
        assert json.loads(path.read_text())["status"] == "completed"


def _assert_one_line_error(result, *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert error_lines, "no error printed"
    joined = "\n".join(error_lines)
    for needle in needles:
        assert needle in joined, joined


@pytest.mark.parametrize(
    "overrides,needles",
    [
        (["model=nope"], ["model/nope"]),
        (["noise=fixed", "noise.sigma2=-1"], ["noise.sigma2=-1 must be > 0"]),
        (["noise=fixed", "noise.sigma2=0"], ["noise.sigma2=0 must be > 0"]),
        (["model.latent_dim=21"], ["model.latent_dim=21 must be between 1 and the data dimension 20"]),
        (["noise.init=big"], ["noise.init='big': expected float"]),
    ],
)
def test_bad_input_fails_with_one_clear_line(run_cli, tmp_path, overrides, needles):
    result = run_cli(*QUICK, *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    _assert_one_line_error(result, *needles)
    if overrides[0] != "model=nope":
        assert len([line for line in result.stderr.splitlines() if "error" in line.lower()]) == 1


def test_corrupt_data_file_names_the_file_and_keeps_it(run_cli, tmp_path):
    cache = tmp_path / "data"
    folder = cache / "mnist"
    folder.mkdir(parents=True)
    bad = folder / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 100)
    result = run_cli("dataset=mnist", "dataset.subset=10", "trainer.max_steps=1", f"hydra.run.dir={tmp_path / 'run'}",
                     env={"VAE_COLLAPSE_DATA": str(cache)})
    _assert_one_line_error(result, "train-images-idx3-ubyte")
    assert bad.exists(), "a user's file was deleted"
    assert not (tmp_path / "run" / "summary.json").exists() or _summary(tmp_path / "run")["status"] != "completed"


def test_python_dash_m_works_from_any_directory(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "vae_collapse", "--cfg", "job", *QUICK], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "SyntheticPPCADataModule" in result.stdout
