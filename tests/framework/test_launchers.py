"""Sweeps on the launchers of the `launchers` extra (joblib, submitit local and Slurm) and the Optuna preset."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import SCRIPT

SWEEP = ["dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=20", "logger=csv",
         "trainer.enable_progress_bar=false", "eval.artifacts=false", "noise=fixed"]
SIX_SIGMAS = "noise.sigma2=0.1,0.3,1,2,4,8"


def _statuses(sweep: Path) -> dict[float, str]:
    out = {}
    for path in sweep.glob("*/summary.json"):
        summary = json.loads(path.read_text())
        out[summary["config"]["noise"]["sigma2"]] = summary["status"]
    return out


def _assert_completed(result, sweep: Path, count: int) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = _statuses(sweep)
    assert len(statuses) == count and set(statuses.values()) == {"completed"}, statuses
    assert f"{count} jobs: {count} completed" in result.stdout
    # Each job's folder is named by its value, also where a worker process composed it.
    for path in sweep.glob("*/summary.json"):
        (value,) = (o for o in json.loads(path.read_text())["overrides"] if o.startswith("noise.sigma2="))
        assert path.parent.name == value


def test_joblib_runs_jobs_in_parallel_processes(run_cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    result = run_cli("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SWEEP, "noise.sigma2=0.5,2",
                     f"hydra.sweep.dir={sweep}")
    _assert_completed(result, sweep, 2)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_six_job_sigma2_sweep_completes_on_each_launcher(run_cli, tmp_path, launcher):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher" if launcher == "joblib"
                        else "hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    result = run_cli("-m", f"hydra/launcher={launcher}", *SWEEP, SIX_SIGMAS, f"hydra.sweep.dir={sweep}", timeout=900)
    _assert_completed(result, sweep, 6)
    if launcher == "submitit_local":
        assert list((sweep / ".submitit").iterdir()), "submitit did not start the jobs as its own processes"


def _kill_first_job_with_a_checkpoint(sweep: Path, proc: subprocess.Popen) -> Path:
    """SIGKILL the process running the first job that has written a checkpoint (its pid is in it)."""
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        for checkpoint in sorted(sweep.glob("*/checkpoints/last.ckpt")):
            if not (checkpoint.parents[1] / "summary.json").exists():
                pid = torch.load(checkpoint, weights_only=True)["vae_collapse"]["pid"]
                os.kill(pid, signal.SIGKILL)
                return checkpoint.parents[1]
        time.sleep(0.1)
    raise AssertionError(f"no job wrote a checkpoint while the sweep ran (exit {proc.poll()})")


@pytest.mark.parametrize("launcher", ["joblib", pytest.param("submitit_local", marks=pytest.mark.slow)])
def test_a_sigkilled_job_of_a_parallel_sweep_resumes_when_the_sweep_is_rerun(run_cli, tmp_path, launcher):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher" if launcher == "joblib"
                        else "hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    extra = ["hydra.launcher.n_jobs=2"] if launcher == "joblib" else []
    # Long enough that the killed job is mid-run when its first checkpoint appears (step 100 of 1,500).
    args = ["-m", f"hydra/launcher={launcher}", *extra, *SWEEP, "trainer.max_steps=1500",
            "checkpoint.every_n_steps=100", SIX_SIGMAS, f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "WANDB_MODE": "offline", "VAE_COLLAPSE_DATA": str(tmp_path / "data")}
    proc = subprocess.Popen([str(SCRIPT), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        killed = _kill_first_job_with_a_checkpoint(sweep, proc)
    finally:
        _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "vae-collapse: error: a job's process ended without a result" in stderr
    assert "re-run the same command" in stderr
    assert not (killed / "summary.json").exists()

    result = run_cli(*args, timeout=900)
    _assert_completed(result, sweep, 6)
    resumed = json.loads((killed / "summary.json").read_text())
    assert resumed["resumed_from"] == str(killed / "checkpoints" / "last.ckpt"), "restarted, not resumed"


def test_ctrl_c_stops_a_joblib_sweeps_running_job_with_a_checkpoint_and_leaves_its_idle_worker_alone(run_cli, tmp_path):
    """Ctrl-C at a terminal reaches the sweep's process and every worker. The running job must stop after
    its step with a summary; joblib used to kill it mid-step, and a worker between jobs used to die."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    # A deep MLP on 4,096 784-dimensional examples at full batch: a step takes most of a second here.
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SWEEP, "model=deep_vae",
            "dataset.data_dim=784", "dataset.n_train=4096", "dataset.batch_size=null", "noise.sigma2=1",
            "checkpoint.every_n_steps=2", "trainer.max_steps=2,20", f"hydra.sweep.dir={sweep}"]
    short, long = sweep / "trainer.max_steps=2", sweep / "trainer.max_steps=20"
    env = {**os.environ, "WANDB_MODE": "offline", "VAE_COLLAPSE_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(SCRIPT), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if (short / "summary.json").exists() and (long / "checkpoints" / "last.ckpt").exists():
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the sweep ended before it could be stopped"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does
    finally:
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr[-3000:]
    assert (long / "summary.json").exists(), f"the running job was killed before its summary: {stderr[-1500:]}"
    stopped = json.loads((long / "summary.json").read_text())
    assert (stopped["status"], stopped["reason"]) == ("interrupted", "Ctrl-C")
    assert "Traceback" not in stderr and "TerminatedWorkerError" not in stderr, stderr[-3000:]
    assert "the sweep stops once its running jobs have stopped" in stderr
    assert "2 jobs started: 1 completed, 1 interrupted" in stderr, stderr[-1500:]
    at = torch.load(long / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    assert 2 <= at < 20

    result = run_cli(*args, timeout=600, env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = json.loads((long / "summary.json").read_text())
    assert resumed["status"] == "completed" and resumed["resumed_at_step"] == at


def test_slurm_preset_composes_and_gives_a_valid_sbatch_script(compose_config, tmp_path, monkeypatch):
    submitit = pytest.importorskip("submitit")
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf

    cfg = compose_config("hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1")
    launcher = cfg.hydra.launcher if "hydra" in cfg else None
    if launcher is None:  # compose() leaves out the hydra node unless asked; read the preset file itself
        launcher = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf/hydra/launcher/submitit_slurm.yaml")
        launcher.partition, launcher.gpus_per_node = "gpu", 1
    fields = {f.name for f in dataclasses.fields(SlurmQueueConf)}
    assert set(launcher.keys()) == fields, set(launcher.keys()) ^ fields
    # submitit checks the names and builds the sbatch script; it only needs an `srun` on the PATH.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\n")
    (fake / "srun").chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    params = {k: v for k, v in OmegaConf.to_container(launcher, resolve=False).items()
              if k not in ("_target_", "submitit_folder", "max_num_timeout", "name")}
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor = submitit.AutoExecutor(folder=str(tmp_path / "submitit"), cluster="slurm")
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    script = executor._executor._make_submission_file_text("echo job", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=240", "#SBATCH --cpus-per-task=4",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --mem=16GB", "#SBATCH --signal=USR2@120"):
        assert line in script, script


@pytest.mark.slow
def test_optuna_study_survives_a_diverged_trial(run_cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the pip extra `optuna`")
    sweep = tmp_path / "study"
    # lr=100 diverges at the first step on this data; the study must record a penalty and go on.
    result = run_cli("-m", "hparams_search=sigma_optuna", *SWEEP, "hydra.sweeper.n_trials=4",
                     "optimizer.lr=choice(0.001,100)", f"hydra.sweep.dir={sweep}", timeout=900)
    best = OmegaConf.load(sweep / "optimization_results.yaml")
    statuses = [json.loads(p.read_text())["status"] for p in sweep.glob("*/summary.json")]
    assert len(statuses) == 4, result.stderr[-3000:]
    assert abs(best.best_value) < 1e6, best  # a real ELBO won, not the penalty
    if "diverged" in statuses:
        assert result.returncode == 1 and "diverged" in result.stderr


@pytest.mark.slow
def test_optuna_study_stops_when_its_trials_are_refused_alike(run_cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the pip extra `optuna`")
    sweep = tmp_path / "study"
    result = run_cli("-m", "hparams_search=sigma_optuna", *SWEEP, "model.latent_dim=50", "hydra.sweeper.n_trials=8",
                     f"hydra.sweep.dir={sweep}", timeout=600)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("vae-collapse: error: the study stopped: its last 3 trials were refused with the same")
    refusals = [line for line in lines if "model.latent_dim=50 must be between 1 and the data dimension 20" in line]
    assert len(refusals) == 3 and refusals[-1] == lines[-2]  # not once per trial
    assert "Traceback" not in result.stderr and not (sweep / "optimization_results.yaml").exists()
    # A refusal that depends on the sampled value costs that trial only.
    mixed = run_cli("-m", "hparams_search=sigma_optuna", *[a for a in SWEEP if not a.startswith("model.latent_dim")],
                    "hydra.sweeper.n_trials=4", "model.latent_dim=choice(3,50)", f"hydra.sweep.dir={tmp_path / 'm'}",
                    timeout=600)
    statuses = [json.loads(p.read_text())["status"] for p in (tmp_path / "m").glob("*/summary.json")]
    assert "completed" in statuses and "study stopped" not in mixed.stderr, mixed.stderr[-2000:]
    assert "model.latent_dim=50 must be between" in mixed.stderr  # this seed samples 50 too
