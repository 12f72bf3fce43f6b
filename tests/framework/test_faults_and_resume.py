"""Jobs that fail or diverge, sweeps that are re-run, runs killed with SIGKILL and resumed."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import SCRIPT

BASE = ["dataset=synthetic_ppca", "model.latent_dim=3", "logger=csv", "trainer.enable_progress_bar=false",
        "eval.artifacts=false"]


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_failing_and_diverging_jobs_end_cleanly_and_the_others_run(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    # lr=30 diverges at step 10 on this data (after the checkpoint at step 5). capturable=true passes
    # every config check and then fails inside Adam's first step on a CPU: a failure at run time.
    args = ["-m", *BASE, "trainer.max_steps=40", "checkpoint.every_n_steps=5", "eval.iwae_samples=0",
            "+optimizer.capturable=false,true", "optimizer.lr=0.001,30", f"hydra.sweep.dir={sweep}"]
    result = run_cli(*args)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    jobs = [f"optimizer.capturable={c},optimizer.lr={lr}" for c in ("False", "True") for lr in ("0.001", "30")]  # Hydra writes the booleans so
    ok, diverged, failed, _ = (_summary(sweep / job) for job in jobs)
    assert ok["config"]["optimizer"] == {**ok["config"]["optimizer"], "lr": 0.001, "capturable": False}
    assert diverged["config"]["optimizer"] == {**diverged["config"]["optimizer"], "lr": 30, "capturable": False}
    assert ok["status"] == "completed" and ok["reason"] is None
    assert diverged["status"] == "diverged" and "non-finite loss" in diverged["reason"]
    assert failed["status"] == "failed" and "capturable=True" in failed["reason"]
    assert (sweep / jobs[2] / "traceback.txt").is_file()
    for summary in (diverged, failed):  # the pPCA reference was known before training: kept, as in W&B
        assert summary["metrics"]["ppca/active_dims"] == ok["metrics"]["ppca/active_dims"]
    # The diverged job keeps its last good checkpoint. The one written at step 10 holds the weights
    # whose loss was not finite, so it moves aside and the step-5 one is last.ckpt again.
    checkpoints = sweep / jobs[1] / "checkpoints"
    checkpoint = torch.load(checkpoints / "last.ckpt", weights_only=True)
    bad_step = int(diverged["reason"].split(" at step ")[1].split(";")[0])
    assert bad_step == 10 and checkpoint["global_step"] == 5
    assert diverged["metrics"]["time/steps"] == bad_step  # and its result table was printed, as for every run
    assert "Result (diverged)" in result.stdout
    assert "last good checkpoint kept" in diverged["reason"] and "(step 5;" in diverged["reason"]
    assert torch.load(checkpoints / "diverged.ckpt", weights_only=True)["global_step"] == bad_step
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())
    job_lines = [line for line in result.stderr.splitlines() if line.startswith("vae-collapse: job")]
    assert len(job_lines) == 3 and f"job {jobs[1]}: diverged" in job_lines[0] and f"job {jobs[2]}: failed" in job_lines[1]
    assert "4 jobs: 1 completed, 1 diverged, 2 failed" in result.stderr
    assert f"; failed: [{jobs[2]}], [{jobs[3]}] (each job's traceback.txt says why" in result.stderr
    assert f"; diverged: [{jobs[1]}] (a re-run repeats the same seed and settings" in result.stderr
    assert "finish them" not in result.stderr  # nothing was interrupted

    # Re-running the same command skips the completed job (its files untouched) and retries the others.
    before = (sweep / jobs[0] / "summary.json").read_bytes()
    again = run_cli(*args)
    assert again.returncode == 1
    assert f"skipped {sweep / jobs[0]}: already completed" in again.stdout
    assert (sweep / jobs[0] / "summary.json").read_bytes() == before


def _wait_for_checkpoint(path: Path, step: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        if path.is_file():
            try:
                if torch.load(path, weights_only=True)["global_step"] >= step:
                    return
            except Exception:  # pragma: no cover - never half written, but be patient anyway
                pass
        time.sleep(0.2)
    raise AssertionError("no checkpoint in time")


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_same_final_metrics(run_cli, tmp_path):
    args = [*BASE, "trainer.max_steps=600", "checkpoint.every_n_steps=25", "seed=3", "eval.track_every_n_steps=50"]
    reference = tmp_path / "uninterrupted"
    assert run_cli(*args, f"hydra.run.dir={reference}").returncode == 0

    killed = tmp_path / "killed"
    env = {**os.environ, "WANDB_MODE": "offline", "VAE_COLLAPSE_DATA": str(tmp_path / "data")}
    proc = subprocess.Popen([str(SCRIPT), *args, f"hydra.run.dir={killed}"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_checkpoint(killed / "checkpoints" / "last.ckpt", 200, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert not (killed / "summary.json").exists()
    step_at_kill = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert 200 <= step_at_kill < 600

    # The same command again: the folder holds this run, interrupted, so it resumes.
    result = run_cli(*args, f"hydra.run.dir={killed}")
    assert result.returncode == 0, result.stderr[-3000:]
    resumed, uninterrupted = _summary(killed), _summary(reference)
    assert resumed["resumed_from"] == str(killed / "checkpoints" / "last.ckpt")
    assert resumed["wandb_id"] == torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)[
        "vae_collapse"]["wandb_id"]
    names = set(uninterrupted["metrics"]) - {"time/seconds"}
    assert names <= set(resumed["metrics"])
    for name in sorted(names):
        a, b = resumed["metrics"][name], uninterrupted["metrics"][name]
        assert a == b or (isinstance(a, float) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)), name
    # The trajectories measured before the kill came back with the checkpoint (the alignment one: a linear decoder).
    for name in ("collapse_trajectory.csv", "alignment_trajectory.csv"):
        resumed_rows, reference_rows = (_csv_rows(folder / name) for folder in (killed, reference))
        assert [row["step"] for row in resumed_rows] == [str(step) for step in range(50, 601, 50)], name
        for got, want in zip(resumed_rows, reference_rows):
            assert got.keys() == want.keys()
            assert all(math.isclose(float(got[key]), float(want[key]), rel_tol=1e-5, abs_tol=1e-6) for key in got), got


def _csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("sig,reason,code", [
    (signal.SIGTERM, "SIGTERM", 143),
    pytest.param(signal.SIGINT, "Ctrl-C", 130, marks=pytest.mark.slow),  # the same path; the default suite has one
])
def test_a_signalled_run_says_it_was_interrupted_and_the_same_command_finishes_it(run_cli, tmp_path, sig, reason, code):
    """Ctrl-C, or a scheduler's SIGTERM: one line, summary.json says why, the exit status is not 0."""
    args = [*BASE, "trainer.max_steps=100000", "checkpoint.every_n_steps=25", "eval.track_every_n_steps=10",
            "trainer.log_every_n_steps=1"]
    run_dir = tmp_path / "run"
    env = {**os.environ, "WANDB_MODE": "offline", "VAE_COLLAPSE_DATA": str(tmp_path / "data")}
    proc = subprocess.Popen([str(SCRIPT), *args, f"hydra.run.dir={run_dir}"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_checkpoint(run_dir / "checkpoints" / "last.ckpt", 50, proc)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (
        f"vae-collapse: interrupted ({reason}); continue it with: vae-collapse resume={run_dir}")
    summary = _summary(run_dir)
    assert (summary["status"], summary["reason"]) == ("interrupted", reason)
    assert summary["metrics"]["time/steps"] >= 50  # how far it got
    assert len(_csv_rows(run_dir / "collapse_trajectory.csv")) >= 5  # measured every 10 steps, past step 50
    step = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    # Training stopped at the end of its step and saved it: nothing since the last periodic checkpoint is lost.
    assert step == summary["metrics"]["time/steps"]
    logged_before = [row for row in _csv_rows(run_dir / "csv" / "metrics.csv") if float(row["step"]) < step]
    assert any(row.get("train/elbo") for row in logged_before)
    result = run_cli(*BASE, f"trainer.max_steps={step + 10}", f"resume={run_dir}", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _summary(run_dir)["status"] == "completed"
    # ... and the run ends where one never interrupted does.
    reference = tmp_path / "uninterrupted"
    assert run_cli(*BASE, f"trainer.max_steps={step + 10}", *args[-3:], f"hydra.run.dir={reference}").returncode == 0
    resumed, uninterrupted = _summary(run_dir)["metrics"], _summary(reference)["metrics"]
    names = set(uninterrupted) - {"time/seconds"}
    assert "train/elbo" in names and names <= set(resumed)
    for name in sorted(names):
        a, b = resumed[name], uninterrupted[name]
        assert a == b or (isinstance(a, float) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)), name
    assert f"vae-collapse: continuing from step {step} of {run_dir / 'checkpoints' / 'last.ckpt'}" in result.stderr
    # Resumed in its own folder: the CSV log keeps the curve before the checkpoint and goes on after it.
    logged = _csv_rows(run_dir / "csv" / "metrics.csv")
    kept = [row for row in logged if float(row["step"]) < step]
    assert [(row["step"], row.get("train/elbo")) for row in kept] == [(row["step"], row.get("train/elbo"))
                                                                      for row in logged_before]
    assert max(float(row["step"]) for row in logged) >= step + 9
    # Every step's training metrics, the one it stopped after too: the curve has no hole.
    # (the last row, at step + 10, is the run's final metrics)
    assert sorted(int(row["step"]) for row in logged if row.get("train/elbo")) == list(range(step + 11))


def test_eval_repeats_the_runs_numbers_and_resume_continues_it_for_more_steps(run_cli, tmp_path):
    first = tmp_path / "first"
    assert run_cli(*BASE, "trainer.max_steps=30", f"hydra.run.dir={first}").returncode == 0

    # vae-collapse-eval on the run folder: the same final numbers, written beside the run's own files.
    evaluated = subprocess.run([str(SCRIPT.parent / "vae-collapse-eval"), str(first)], capture_output=True, text=True,
                               timeout=300, cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    reported, again = _summary(first)["metrics"], json.loads((first / "eval" / "eval.json").read_text())["metrics"]
    for name in ("train/elbo", "train/log_px", "test/elbo", "test/log_px_iwae", "collapse/active_dims",
                 "collapse/active_units", "ppca/log_px", "ppca/active_dims"):
        assert again[name] == pytest.approx(reported[name], rel=1e-6, abs=1e-7), name
    assert set(again) <= set(reported)
    # The report takes eval.json's numbers only for the run's last step (report/runs.py): the same count.
    assert json.loads((first / "eval" / "eval.json").read_text())["global_step"] == reported["time/steps"] == 30
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    bad = subprocess.run([str(SCRIPT.parent / "vae-collapse-eval"), str(tmp_path / "junk.ckpt")], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "junk.ckpt is not a readable" in bad.stderr
    unwritable = subprocess.run([str(SCRIPT.parent / "vae-collapse-eval"), str(first), "--out",
                                 str(first / "summary.json" / "eval")], capture_output=True, text=True, timeout=300)
    assert unwritable.returncode == 1 and unwritable.stderr.strip().count("\n") == 0, unwritable.stderr[-2000:]
    assert "summary.json/eval (Not a directory); give a writable --out" in unwritable.stderr
    # The run's own files are never the target, and only eval.* may change (here: a coarser eps).
    before = {p.name: p.read_bytes() for p in first.iterdir() if p.is_file()}
    eval_cli = str(SCRIPT.parent / "vae-collapse-eval")
    into_run = subprocess.run([eval_cli, str(first), "--out", str(first)], capture_output=True, text=True, timeout=300)
    assert into_run.returncode == 1 and "is a run folder" in into_run.stderr and into_run.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in first.iterdir() if p.is_file()} == before
    # A checkpoint copied out of its run folder has no <run dir>/eval: --out is asked for, nothing is written.
    copied = tmp_path / "kept" / "model.ckpt"
    copied.parent.mkdir()
    copied.write_bytes((first / "checkpoints" / "last.ckpt").read_bytes())
    loose = subprocess.run([eval_cli, str(copied)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert loose.returncode == 1 and loose.stderr.strip().splitlines() == [
        f"vae-collapse-eval: error: {copied}: is not in a run's checkpoints/ folder, so there is no <run dir>/eval "
        "to write to; say where with --out <folder>"]
    assert sorted(p.name for p in copied.parent.iterdir()) == ["model.ckpt"] and not (tmp_path / "eval").exists()
    other = subprocess.run([eval_cli, str(first), "model.latent_dim=2"], capture_output=True, text=True, timeout=300)
    assert other.returncode == 1 and "only eval.* settings" in other.stderr
    coarse = subprocess.run([eval_cli, str(first), "eval.eps=100", "eval.iwae_samples=0", "--out", str(tmp_path / "e")],
                            capture_output=True, text=True, timeout=300)
    assert coarse.returncode == 0, coarse.stderr[-2000:]
    remeasured = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert remeasured["overrides"] == ["eval.eps=100", "eval.iwae_samples=0"]
    # The settings it measured with, whole, and the checkpoint's path, whatever folder it ran from.
    assert remeasured["eval"]["eps"] == 100 and remeasured["eval"]["iwae_samples"] == 0
    assert remeasured["eval"]["delta"] == 0.01 and "_target_" not in remeasured["eval"]
    assert remeasured["checkpoint"] == str(first / "checkpoints" / "last.ckpt")
    assert remeasured["metrics"]["collapse/active_dims"] == 0 and "test/log_px_iwae" not in remeasured["metrics"]
    # Fewer steps than the checkpoint already took: refused, and no folder is left.
    shorter = run_cli(f"resume={first}", "trainer.max_steps=10", f"hydra.run.dir={tmp_path / 'shorter'}")
    assert shorter.returncode == 1 and shorter.stderr.strip().splitlines() == [
        f"vae-collapse: error: trainer.max_steps=10: the run would end at step 10, before its checkpoint's step 30 "
        f"({first / 'checkpoints' / 'last.ckpt'}); give more steps, or measure that checkpoint again with "
        "vae-collapse-eval"]
    assert not (tmp_path / "shorter").exists()
    # As many steps as the completed run took: nothing to continue; a copy would pass for the newer run.
    same = run_cli(f"resume={first}", f"hydra.run.dir={tmp_path / 'same'}")
    assert same.returncode == 1 and same.stderr.strip().splitlines() == [
        f"vae-collapse: error: trainer.max_steps=30: {first} already completed its 30 steps, so there is nothing "
        "to continue; give more steps, or measure that run again with vae-collapse-eval"]
    assert not (tmp_path / "same").exists()
    # Only resumable keys on the command line; the rest (dataset, model, ...) comes from the checkpoint.
    second = tmp_path / "second"
    result = run_cli(f"resume={first}", "trainer.max_steps=60", "trainer.enable_progress_bar=false",
                     f"hydra.run.dir={second}")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = _summary(second)
    assert summary["config"]["model"]["latent_dim"] == 3 and summary["config"]["trainer"]["max_steps"] == 60
    assert summary["resumed_from"] == str(first / "checkpoints" / "last.ckpt") and summary["resumed_at_step"] == 30
    assert torch.load(second / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 60
    assert summary["wandb_id"] == _summary(first)["wandb_id"]
    # The training curve goes on: the resumed part logs on the loggers' steps, not only at its end.
    with open(second / "csv" / "metrics.csv", newline="") as handle:
        logged = [int(row["step"]) for row in csv.DictReader(handle) if row.get("train/elbo")]
    assert [s for s in logged if 30 < s < 59], logged


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(run_cli, tmp_path):
    args = ["dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=50", "trainer.enable_progress_bar=false"]
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert run_cli(*args, f"hydra.run.dir={single}").returncode == 0
    result = run_cli(*args, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", f"hydra.run.dir={ddp}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (ddp / "train_ddp_process_1.log").exists(), "no second process was started"
    assert len(list(ddp.glob("wandb/offline-run-*"))) == 1, "a rank other than zero logged to W&B"
    assert result.stdout.count("Result (completed)") == 1
    one, two = _summary(single)["metrics"], _summary(ddp)["metrics"]
    for name in ("train/elbo", "train/sigma2", "test/elbo", "test/log_px_iwae", "collapse/active_dims"):
        assert two[name] == pytest.approx(one[name], rel=1e-5, abs=1e-6), name


def test_offline_wandb_parts_of_a_resumed_run_share_its_id_and_continue_its_steps(run_cli, tmp_path):
    from tests.wandb_records import run_id_and_history, run_summary_and_config

    first, second = tmp_path / "first", tmp_path / "second"
    args = [*BASE, "logger=wandb", "eval.iwae_samples=0", "eval.artifacts=false"]
    assert run_cli(*args, "trainer.max_steps=30", f"hydra.run.dir={first}").returncode == 0
    first_csv = (first / "csv" / "metrics.csv").read_bytes()
    result = run_cli(f"resume={first}", "trainer.max_steps=60", f"hydra.run.dir={second}")
    assert result.returncode == 0, result.stderr[-3000:]
    # The resumed part logs into its own folder and leaves the first run's logs as they were.
    assert (first / "csv" / "metrics.csv").read_bytes() == first_csv
    assert (second / "csv" / "metrics.csv").is_file()
    assert len(list((first / "wandb").glob("offline-run-*"))) == 1
    run_id = _summary(first)["wandb_id"]
    assert _summary(second)["wandb_id"] == run_id
    steps = {}
    for name, folder in (("first", first), ("second", second)):
        (part,) = (folder / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb")
        found, rows = run_id_and_history(part)
        assert found == run_id
        steps[name] = [row["trainer/global_step"] for row in rows if "trainer/global_step" in row]
        # How the part ended and what was asked for are on W&B too, as in summary.json.
        summary, config = run_summary_and_config(part)
        assert summary["status"] == "completed" and summary["train/elbo"] == _summary(folder)["metrics"]["train/elbo"]
        assert config["overrides"] == _summary(folder)["overrides"]
    # The second part's global steps carry on from the first's.
    assert steps["first"] and steps["second"]
    assert max(steps["first"]) <= 30 < min(steps["second"]) and max(steps["second"]) == 60


def test_a_run_resumed_at_its_last_step_keeps_train_lr(run_cli, tmp_path):
    """Killed in its final measurements, the run resumes with no step left: train/lr came only from a step."""
    args = [*BASE, "trainer.max_steps=20", "lr_scheduler=cosine", f"hydra.run.dir={tmp_path / 'run'}"]
    assert run_cli(*args).returncode == 0
    first = _summary(tmp_path / "run")["metrics"]
    # The optimiser's own float64 rate, not Lightning's float32 copy of it (a cosine value is not float32-exact).
    assert first["train/lr"] != float(torch.tensor(first["train/lr"], dtype=torch.float32))
    (tmp_path / "run" / "summary.json").unlink()  # as if killed after the last checkpoint
    result = run_cli(*args)
    assert result.returncode == 0 and "continuing from step 20" in result.stderr, result.stderr[-2000:]
    again = _summary(tmp_path / "run")["metrics"]
    assert again["time/steps"] == 20 and again["train/lr"] == pytest.approx(first["train/lr"], rel=1e-6)


def test_the_wandb_mode_of_a_resumed_run_is_the_resuming_commands(run_cli, tmp_path):
    """WANDB_MODE is saved resolved with the run's config; a resume must not bring the first part's back."""
    parts = [tmp_path / name for name in ("disabled", "offline", "disabled_again")]
    args = [*BASE, "logger=wandb", "eval.iwae_samples=0"]
    result = run_cli(*args, "trainer.max_steps=10", f"hydra.run.dir={parts[0]}", env={"WANDB_MODE": "disabled"})
    assert result.returncode == 0, result.stderr[-3000:]
    for before, part, mode in ((parts[0], parts[1], "offline"), (parts[1], parts[2], "disabled")):
        result = run_cli(f"resume={before}", f"trainer.max_steps={_summary(before)['metrics']['time/steps'] + 5}",
                         f"hydra.run.dir={part}", env={"WANDB_MODE": mode})
        assert result.returncode == 0, result.stderr[-3000:]
        assert _summary(part)["config"]["logger"]["wandb"]["mode"] == mode
    assert [bool(list(part.glob("wandb/offline-run-*"))) for part in parts] == [False, True, False]


# The linear VAE's analytic ELBO draws no noise; the MLP's one-sample ELBO does, so its resume must
# also restore the RNG, and nothing between restoring it and the next step may draw from it.
@pytest.mark.parametrize("model", [[], ["model=deep_vae", "model.hidden=[16]"]], ids=["linear", "deep"])
@pytest.mark.parametrize("stop", [25, 20, 23], ids=["mid-epoch", "epoch-end", "ended-mid-epoch"])
def test_a_minibatch_run_resumed_ends_where_an_uninterrupted_one_does(run_cli, tmp_path, model, stop):
    # 20 batches an epoch; a checkpoint at step 25 is 5 batches into the second epoch. Runs of 20 and
    # 23 steps have only the checkpoint written after their last step.
    args = [*BASE, *model, "dataset.batch_size=100", "checkpoint.every_n_steps=25", "eval.iwae_samples=0",
            "trainer.log_every_n_steps=1"]
    whole, part, resumed = tmp_path / "whole", tmp_path / "part", tmp_path / "resumed"
    assert run_cli(*args, "trainer.max_steps=40", f"hydra.run.dir={whole}").returncode == 0
    assert run_cli(*args, f"trainer.max_steps={stop}", f"hydra.run.dir={part}").returncode == 0
    result = run_cli(f"resume={part}", "trainer.max_steps=40", f"hydra.run.dir={resumed}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dataloader is not resumable" not in result.stderr
    a, b = _summary(whole)["metrics"], _summary(resumed)["metrics"]
    for name in sorted(set(a) - {"time/seconds"}):
        assert a[name] == b[name] or math.isclose(a[name], b[name], rel_tol=1e-6, abs_tol=1e-7), name
    # And on the same steps and epochs: from a checkpoint written in on_train_end, Lightning restored
    # its logging step and its epoch one ahead, and every row of the resumed part was labelled late.
    whole_rows, resumed_rows = _train_rows(whole), _train_rows(resumed)
    assert resumed_rows and min(resumed_rows) == stop
    for step, (epoch, value) in resumed_rows.items():
        assert epoch == whole_rows[step][0], step
        assert math.isclose(value, whole_rows[step][1], rel_tol=1e-6, abs_tol=1e-7), step


def _train_rows(run: Path) -> dict[int, tuple[int, float]]:
    """{step: (epoch, train/elbo)} of the rows logged during training (the final metrics' row has no epoch)."""
    with open(run / "csv" / "metrics.csv", newline="") as handle:
        return {int(row["step"]): (int(row["epoch"]), float(row["train/elbo"])) for row in csv.DictReader(handle)
                if row.get("train/elbo") and row.get("epoch")}


def test_an_em_run_resumed_ends_where_an_uninterrupted_one_does(run_cli, tmp_path):
    # The over-relaxed ascent's float64 decoder and extrapolation factor are not torch optimiser state;
    # unsaved, the resumed run restarted them from the float32 weights at eta = 1 and took other steps.
    args = [*BASE, "optimizer=em", "dataset.batch_size=null", "checkpoint.every_n_steps=10", "eval.iwae_samples=0",
            "trainer.log_every_n_steps=1"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert run_cli(*args, "trainer.max_steps=30", f"hydra.run.dir={whole}").returncode == 0
    result = run_cli(f"resume={whole / 'checkpoints' / 'last.prev.ckpt'}", f"hydra.run.dir={resumed}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 30
    a, b = _summary(whole)["metrics"], _summary(resumed)["metrics"]
    with open(whole / "csv" / "metrics.csv") as handle:  # over-relaxed steps were taken, so the state mattered
        assert any(float(row["train/em_relaxation"]) > 1 for row in csv.DictReader(handle) if row.get("train/em_relaxation"))
    for name in ("train/elbo", "train/em_relaxation", "train/sigma2", "test/elbo", "collapse/active_dims"):
        assert math.isclose(a[name], b[name], rel_tol=1e-9, abs_tol=1e-9), name
    whole_rows = _train_rows(whole)
    assert all(e == whole_rows[s][0] and math.isclose(v, whole_rows[s][1], rel_tol=1e-9, abs_tol=1e-9)
               for s, (e, v) in _train_rows(resumed).items())


def test_validation_and_tracking_do_not_change_what_is_trained(run_cli, tmp_path):
    # Both sample (one-sample ELBOs, the tracker's evaluation): from the training RNG, they shifted its noise.
    args = [*BASE, "model=deep_vae", "model.hidden=[16]", "dataset.batch_size=500", "trainer.max_steps=12",
            "eval.iwae_samples=0", "checkpoint.enabled=false"]
    plain, measured = tmp_path / "plain", tmp_path / "measured"
    assert run_cli(*args, f"hydra.run.dir={plain}").returncode == 0
    result = run_cli(*args, "dataset.n_val=200", "+trainer.val_check_interval=3", "eval.track_every_n_steps=2",
                     f"hydra.run.dir={measured}")
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = _summary(plain)["metrics"], _summary(measured)["metrics"]
    assert "val/elbo" in b and (measured / "collapse_trajectory.csv").is_file()
    listed = [line.split() for line in result.stdout.splitlines()]  # the Files list
    assert ["collapse", "trajectory", str(measured / "collapse_trajectory.csv")] in listed
    assert not (measured / "alignment_trajectory.csv").exists()  # a deep decoder has no columns to align
    # The test split differs (the validation rows are drawn before it); the last training step does not.
    for name in ("train/elbo", "train/kl", "train/recon"):
        assert a[name] == b[name], name


@pytest.mark.parametrize("has_summary", [True, False], ids=["completed", "killed"])
def test_a_resumed_run_gets_a_folder_beside_the_run_it_continues(run_cli, tmp_path, has_summary):
    first = tmp_path / "outputs" / "mine" / "first"
    assert run_cli(*BASE, "name=mine", "trainer.max_steps=5", f"hydra.run.dir={first}").returncode == 0
    if not has_summary:  # a run killed with SIGKILL: its name is in the checkpoint only
        (first / "summary.json").unlink()
    result = run_cli(f"resume={first}", "trainer.max_steps=10", "trainer.enable_progress_bar=false")
    assert result.returncode == 0, result.stderr[-3000:]
    (resumed,) = [p for p in (tmp_path / "outputs" / "mine").iterdir() if p != first]  # outputs/<name>/<time>
    assert _summary(resumed)["metrics"]["time/steps"] == 10
    assert not (tmp_path / "outputs" / "default").exists()


def test_a_sweep_of_continuations_with_the_flag_first_runs(run_cli, tmp_path):
    # The run's name goes in beside resume=, not in front of -m, where Hydra took it for a flag's value.
    first = tmp_path / "outputs" / "mine" / "first"
    assert run_cli(*BASE, "name=mine", "trainer.max_steps=5", f"hydra.run.dir={first}").returncode == 0
    result = run_cli("-m", f"resume={first}", "trainer.max_steps=8,10", "trainer.enable_progress_bar=false",
                     f"hydra.sweep.dir={tmp_path / 'more'}")
    assert result.returncode == 0, result.stderr[-3000:]
    steps = sorted(_summary(job)["metrics"]["time/steps"] for job in (tmp_path / "more").iterdir() if job.is_dir())
    assert steps == [8, 10]


def test_one_sweep_continues_several_runs_named_with_commas(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    assert run_cli("-m", *BASE, "trainer.max_steps=5", "noise=fixed", "noise.sigma2=0.5,1.0",
                   f"hydra.sweep.dir={sweep}").returncode == 0
    a, b = sweep / "noise.sigma2=0.5", sweep / "noise.sigma2=1.0"
    result = run_cli("-m", f"resume={a},{b}", "trainer.max_steps=8", f"hydra.sweep.dir={tmp_path / 'more'}")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p.name for p in (tmp_path / "more").iterdir() if p.is_dir())
    assert jobs == [f"resume={str(folder).replace(os.sep, '-')}" for folder in (a, b)]
    assert {_summary(tmp_path / "more" / job)["metrics"]["time/steps"] for job in jobs} == {8}


def test_the_last_checkpoint_holds_the_final_step_whatever_the_saving_interval(run_cli, tmp_path):
    """Saving every 2 steps, a 5-step run must still end with step 5 in last.ckpt (vae-collapse-eval reads it)."""
    run = tmp_path / "run"
    assert run_cli(*BASE, "trainer.max_steps=5", "checkpoint.every_n_steps=2", "eval.iwae_samples=0",
                   f"hydra.run.dir={run}").returncode == 0
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 5
