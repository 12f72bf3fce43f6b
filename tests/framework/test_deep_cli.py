"""Deep-VAE presets through the console script: a short MNIST sweep and CelebA from a folder."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SCRIPT

SMALL_MNIST = [
    "dataset.subset=500",
    "dataset.val_size=200",
    "dataset.test_subset=200",
    "trainer.max_steps=30",
    "eval.iwae_samples=20",
    "eval.iwae_examples=50",
    "trainer.enable_progress_bar=false",
]


def _summaries(sweep: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/summary.json"))]


@pytest.mark.network
def test_short_fixed_sigma_sweep_on_an_mnist_subset(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("-m", "experiment=deep_mnist_fixed_sigma", *SMALL_MNIST, "noise.sigma2=0.01,2.0", "seed=0",
                     "eval.track_every_n_steps=10", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = _summaries(sweep)
    assert [r["status"] for r in runs] == ["completed", "completed"]
    by_sigma2 = {r["config"]["noise"]["sigma2"]: r["metrics"] for r in runs}
    for metrics in by_sigma2.values():
        for name in ("train/elbo", "val/elbo", "val/kl", "test/elbo", "test/log_px_iwae", "collapse/active_dims",
                     "collapse/active_units", "ppca/active_dims", "ppca/residual_dims", "train/sigma2", "train/beta"):
            assert name in metrics, name
        assert metrics["test/iwae_examples"] == 50  # eval.iwae_examples, fewer than the test images
        assert "collapse/kl" not in metrics  # the tracker's numbers are track/*, not final collapse/*
    assert by_sigma2[2.0]["ppca/active_dims"] < by_sigma2[0.01]["ppca/active_dims"]
    assert by_sigma2[2.0]["collapse/active_dims"] <= by_sigma2[0.01]["collapse/active_dims"]
    jobs = [summary.parent for summary in sweep.glob("*/summary.json")]
    assert len(jobs) == 2
    for job in jobs:
        for name in ("collapse_curve.csv", "kl_per_dim.csv", "collapse_trajectory.csv", "collapse_curve.png",
                     "kl_per_dim.png", "reconstructions.png", "samples.png", "residual_spectrum.csv", "spectrum.png"):
            assert (job / name).exists(), f"{job.name}/{name}"
        assert (job / "collapse_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        header = next(job.glob("csv/**/metrics.csv")).read_text().splitlines()[0].split(",")
        assert {"track/active_dims", "track/kl"} <= set(header), header
        media = list(job.glob("wandb/offline-run-*/files/media/images/**/*.png"))
        assert len(media) >= 5, "W&B media missing"
        assert list(job.glob("wandb/offline-run-*/files/media/table/track/trajectory_*.table.json")), "no trajectory"


def _celeba_folder(root: Path, count: int) -> Path:
    from PIL import Image

    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    for i in range(1, count + 1):
        Image.new("RGB", (178, 218), (10 * i % 255, 80, 200)).save(images / f"{i:06d}.jpg")
    return root


@pytest.mark.slow  # ~50 s on 2 cores (the pPCA reference of a 12,288-dim covariance; was ~5 min with eigenvectors)
def test_celeba_preset_runs_on_a_generated_folder(run_cli, tmp_path):
    root = _celeba_folder(tmp_path / "celeba", 12)
    result = run_cli("experiment=deep_celeba_fixed_sigma", f"dataset.root={root}", "dataset.subset=8",
                     "dataset.val_size=0", "dataset.test_subset=0", "dataset.batch_size=4", "trainer.max_steps=2",
                     "model.channels=[4,4,8,8]", "logger=csv", "trainer.enable_progress_bar=false",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["metrics"]["collapse/latent_dim"] == 64
    assert (tmp_path / "run" / "reconstructions.png").exists()


def test_a_celeba_run_whose_folder_moved_is_evaluated_and_resumed_with_its_new_root(run_cli, tmp_path):
    root = _celeba_folder(tmp_path / "celeba", 12)
    run = tmp_path / "run"
    tiny = ["dataset.image_size=8", "dataset.subset=8", "dataset.val_size=0", "dataset.test_subset=0",
            "dataset.batch_size=4", "model=deep_vae", "model.hidden=[16]", "model.latent_dim=2",
            "eval.iwae_samples=0", "logger=csv", "trainer.enable_progress_bar=false"]
    first = run_cli("dataset=celeba", f"dataset.root={root}", *tiny, "trainer.max_steps=4", f"hydra.run.dir={run}")
    assert first.returncode == 0, first.stderr[-3000:]
    moved = tmp_path / "moved"
    root.rename(moved)
    eval_cli = str(SCRIPT.parent / "vae-collapse-eval")

    lost = subprocess.run([eval_cli, str(run)], capture_output=True, text=True, timeout=300)
    assert lost.returncode == 1 and lost.stderr.count("\n") == 1 and f"not found in {root}" in lost.stderr
    assert not (run / "eval").exists()  # a failed eval leaves no folder behind
    # The new place on the command line, before or after --out; the data is checked against the checkpoint's.
    found = subprocess.run([eval_cli, str(run), "--out", str(tmp_path / "e"), f"dataset.root={moved}"],
                           capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stderr[-2000:]
    reported = json.loads((run / "summary.json").read_text())["metrics"]
    assert json.loads((tmp_path / "e" / "eval.json").read_text())["metrics"]["train/elbo"] == pytest.approx(
        reported["train/elbo"], rel=1e-6)

    # Resumed with the default dataset (mnist, no key root) on the command line: the run's own dataset is used.
    more = run_cli(f"resume={run}", f"dataset.root={moved}", "trainer.max_steps=8", "trainer.enable_progress_bar=false",
                   f"hydra.run.dir={tmp_path / 'more'}")
    assert more.returncode == 0, more.stderr[-3000:]
    summary = json.loads((tmp_path / "more" / "summary.json").read_text())
    assert summary["metrics"]["time/steps"] == 8 and summary["config"]["dataset"]["root"] == str(moved)
    other = run_cli(f"resume={run}", "dataset.subset=6", f"hydra.run.dir={tmp_path / 'other'}")
    assert other.returncode == 1 and "a resumed run can only change" in other.stderr
    group = run_cli(f"resume={run}", "dataset=mnist", f"hydra.run.dir={tmp_path / 'group'}")
    assert group.returncode == 1 and group.stderr.count("\n") == 1, group.stderr[-2000:]
    assert "continues a run with its own dataset settings; a resumed run can only change" in group.stderr
    added = run_cli(f"resume={run}", "+model.colour=red", f"hydra.run.dir={tmp_path / 'added'}")
    assert added.returncode == 1 and "continues a run with no key model.colour; a resumed run" in added.stderr


def test_missing_celeba_folder_says_where_to_put_the_images(run_cli, tmp_path):
    result = run_cli("experiment=deep_celeba_fixed_sigma", f"dataset.root={tmp_path / 'nowhere'}",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "CelebA images not found" in lines[0] and "nowhere" in lines[0]


def test_a_cut_off_kl_warmup_reports_the_beta_it_ended_at(run_cli, tmp_path):
    """summary.json, collapse_trajectory.csv and the warning agree on where beta stopped."""
    run_dir = tmp_path / "run"
    result = run_cli("dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=40", "noise=kl_anneal",
                     "noise.warmup_steps=100", "eval.track_every_n_steps=20", "logger=csv",
                     "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "schedule ends at beta = 0.4 (summary.json's train/beta; its last step trains with 0.39)" in result.stderr
    metrics = json.loads((run_dir / "summary.json").read_text())["metrics"]
    rows = (run_dir / "collapse_trajectory.csv").read_text().splitlines()
    last = dict(zip(rows[0].split(","), rows[-1].split(",")))
    assert int(last["step"]) == 40
    assert metrics["train/beta"] == pytest.approx(0.4) == pytest.approx(float(last["beta"]))
    # Every measurement reaches the loggers, not only those on a logging step (every 50 here),
    # at the step of the update before it (the trajectory counts updates done).
    with open(run_dir / "csv" / "metrics.csv", newline="") as handle:
        tracked = [int(r["step"]) for r in csv.DictReader(handle) if r.get("track/active_dims")]
    assert tracked == [int(row.split(",")[0]) - 1 for row in rows[1:]] == [19, 39]
