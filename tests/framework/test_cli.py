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
    result = run_cli(*QUICK, f"hydra.run.dir={run_dir}", env={"WANDB_SILENT": "false"})
    assert result.returncode == 0, result.stderr[-3000:]
    # W&B says where the offline run went, but not its history and summary again (logger.wandb.quiet).
    assert "offline-run-" in result.stderr and "Run history" not in result.stdout + result.stderr
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
    # The printed lines are kept in Hydra's log file too, and printed once, without its prefix.
    log = (run_dir / "cli.log").read_text()
    assert "Result (completed)" in log and "train/elbo" in log
    assert result.stdout.count("Result (completed)") == 1 and "[INFO]" not in result.stdout


# From outputs/ (or multirun/), ../../ leaves the working folder, which a refused run's clean-up never touches.
@pytest.mark.parametrize("args", [("name=../../{escaped}",), ("-m", "name=fine,../../{escaped}")], ids=["run", "sweep"])
def test_a_name_that_leaves_outputs_is_refused_before_any_folder_is_made(run_cli, tmp_path, args):
    escaped = f"escaped-{tmp_path.name}"
    result = run_cli(*[a.format(escaped=escaped) for a in args], *QUICK)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"name=../../{escaped}: a name makes the folder outputs/<name>/" in lines[0], result.stderr
    assert not (tmp_path.parent / escaped).exists()
    assert not (tmp_path / "outputs").exists() and not list((tmp_path / "multirun").rglob("*.yaml"))


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


# Bad input (one clear line, earlier results untouched): tests/framework/test_bad_inputs.py.


def test_python_dash_m_works_from_any_directory(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "vae_collapse", "--cfg", "job", *QUICK], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "SyntheticPPCADataModule" in result.stdout


def test_em_optimizer_reaches_the_optimum_through_the_console_script(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*QUICK, "optimizer=em", "trainer.max_steps=150", "logger=csv", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = _summary(run_dir)["metrics"]
    assert metrics["time/steps"] == 150
    assert metrics["ppca/log_px"] - metrics["train/elbo"] == pytest.approx(0.0, abs=1e-4)
    assert metrics["train/sigma2"] == pytest.approx(metrics["ppca/sigma2"], rel=1e-3)
    # Over-relaxation was taken (a factor above the plain EM step's 1.0) on some logged step.
    import csv

    with open(run_dir / "csv" / "metrics.csv") as handle:
        factors = [float(r["train/em_relaxation"]) for r in csv.DictReader(handle) if r.get("train/em_relaxation")]
    assert factors and max(factors) > 1.0 and min(factors) >= 1.0
    assert metrics["collapse/active_dims"] == metrics["ppca/active_dims"]


def test_a_missing_optional_sweeper_names_the_extra_to_install():
    from vae_collapse.cli import _plugin_hint

    message = "In 'hydra/config': Could not find 'hydra/sweeper/optuna'\nAvailable options in 'hydra/sweeper':\n\tbasic"
    assert _plugin_hint(message) == " (an optional extra: pip install -e '.[optuna]')"
    assert _plugin_hint("Could not find 'model/nope'") == ""
    missing = "Unknown plugin class : 'hydra_plugins.vae_collapse_launchers.stoppable_joblib.StoppableJoblibLauncher'"
    assert _plugin_hint(missing) == " (an optional extra: pip install -e '.[launchers]')"


def test_a_mistyped_searchpath_is_named_once_in_the_warning_and_in_the_error(run_cli, tmp_path):
    # Hydra warned in two lines with a site-packages path, and the error did not name the cause.
    result = run_cli(f"hydra.searchpath=[file://{tmp_path}/my_projec/conf]", "noise=halving")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 2, result.stderr
    assert lines[0] == (f"vae-collapse: warning: hydra.searchpath: {tmp_path}/my_projec/conf (from the command-line) "
                        "is not a config folder; nothing is read from it")
    assert lines[1].startswith("vae-collapse: error: In 'config': Could not find 'noise/halving'")
    assert lines[1].endswith(f"(hydra.searchpath names {tmp_path}/my_projec/conf, which is not a config folder)")


def test_too_few_images_for_the_latent_size_run_without_the_ppca_reference(run_cli, tmp_path):
    """4 images span 3 dimensions: pPCA's learned sigma^2 would be 0, so ppca/* is left out, with a warning."""
    run_dir = tmp_path / "run"
    result = run_cli(*QUICK, "dataset.n_train=4", "model.latent_dim=5", "logger=csv", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("warning: no pPCA optimum (ppca/log_px, ppca/sigma2, ppca/active_dims) for this run: the data span 3 "
            "dimensions") in result.stderr
    metrics = _summary(run_dir)["metrics"]
    # The test on the model's own residual needs no pPCA fit.
    assert [name for name in metrics if name.startswith("ppca/")] == ["ppca/residual_dims"]
    assert "train/elbo" in metrics
    # pPCA itself cannot be fitted there: one line, and no run folder.
    refused = run_cli(*QUICK, "dataset.n_train=4", "model=ppca", "model.latent_dim=5", f"hydra.run.dir={tmp_path / 'ppca'}")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "vae-collapse: error: model.latent_dim=5: the data span 3 dimensions, no more than the latent size k=5: the 15 "
        "discarded eigenvalues are zero, so sigma2_ML = 0 and the likelihood is unbounded; use a latent size below 3, "
        "more data, or a fixed sigma2"]
    assert not (tmp_path / "ppca").exists()


def test_help_shows_examples_that_compose_and_the_config_groups(run_cli):
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("vae-collapse: posterior-collapse experiments")
    assert "noise: anneal, fixed, kl_anneal, learned, optimal" in result.stdout
    examples = [line.split("#")[0].split()[1:] for line in result.stdout.splitlines()
                if line.startswith("  vae-collapse ") and "<" not in line]
    assert len(examples) == 4
    for args in examples:
        args = [a for a in args if a not in ("-m", "--cfg", "job")]
        composed = run_cli("--cfg", "job", *args)
        assert composed.returncode == 0, (args, composed.stderr)
