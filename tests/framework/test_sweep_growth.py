"""A sweep grown in its folder: the runs already there are found, whatever their folders are called."""

from __future__ import annotations

import json

import pytest
import torch

from tests.framework.bad_input_table import QUICK


def _sweep(run_cli, sweep, *args):
    result = run_cli("-m", *QUICK, "noise=fixed", "eval.artifacts=false", *args, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_a_sweep_given_another_key_skips_the_runs_it_already_holds(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    _sweep(run_cli, sweep, "noise.sigma2=0.5,1")
    before = (sweep / "noise.sigma2=1" / "summary.json").read_bytes()
    # What an attempt killed before its first checkpoint leaves: it goes when its run is found elsewhere.
    (sweep / "noise.sigma2=0.5,seed=0" / ".hydra").mkdir(parents=True)
    (sweep / "noise.sigma2=0.5,seed=0" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    # Seeds added, and 1 written as 1.0: the seed-0 runs are those already in noise.sigma2=0.5 and =1.
    grown = _sweep(run_cli, sweep, "noise.sigma2=0.5,1.0", "seed=0,1")
    assert f"skipped noise.sigma2=1.0,seed=0: the same run already completed in {sweep / 'noise.sigma2=1'}" in grown.stdout
    assert "skipped noise.sigma2=0.5,seed=0" in grown.stdout
    assert grown.stdout.strip().splitlines()[-1].endswith("4 jobs: 4 completed (2 of them before, so skipped)")
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [
        "noise.sigma2=0.5", "noise.sigma2=0.5,seed=1", "noise.sigma2=1", "noise.sigma2=1.0,seed=1"]
    assert (sweep / "noise.sigma2=1" / "summary.json").read_bytes() == before
    # A setting the sweep does not vary, changed: refused, saying that the folder names leave it out.
    clash = run_cli("-m", *QUICK, "noise=fixed", "eval.artifacts=false", "noise.sigma2=0.5,1", "model.latent_dim=2",
                    f"hydra.sweep.dir={sweep}")
    assert clash.returncode == 1
    assert (f"{sweep / 'noise.sigma2=1'} already holds another run (model.latent_dim=3 there, 2 here): this sweep names "
            "its job folders by the keys it sweeps") in clash.stderr
    assert (sweep / "noise.sigma2=1" / "summary.json").read_bytes() == before


def test_a_sweep_job_resumed_by_its_folder_keeps_its_wandb_group_and_name(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    _sweep(run_cli, sweep, "noise.sigma2=0.5,1", "seed=0,1")
    job = sweep / "noise.sigma2=1,seed=1"  # '=' and ',' in a path: quoted for Hydra by the console script
    resumed = run_cli(f"resume={job}", "trainer.max_steps=8", f"hydra.run.dir={tmp_path / 'more'}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    meta = {where: torch.load(where / "checkpoints" / "last.ckpt", weights_only=True)["vae_collapse"]
            for where in (job, tmp_path / "more")}
    assert meta[job]["wandb_group"] == "default-sweep" and meta[job]["wandb_name"] == "noise.sigma2=1,seed=1"
    assert {k: meta[tmp_path / "more"][k] for k in ("wandb_id", "wandb_group", "wandb_name")} == \
           {k: meta[job][k] for k in ("wandb_id", "wandb_group", "wandb_name")}
    assert json.loads((tmp_path / "more" / "summary.json").read_text())["metrics"]["time/steps"] == 8


def test_jobs_of_one_command_that_differ_only_in_keys_a_run_ignores_both_run(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    result = _sweep(run_cli, sweep, "trainer.log_every_n_steps=1,5")
    assert "skipped" not in result.stdout
    assert sorted(p.parent.name for p in sweep.glob("*/summary.json")) == [
        "trainer.log_every_n_steps=1", "trainer.log_every_n_steps=5"]


def test_a_relative_sweep_folder_is_found_from_a_job_that_changes_folder(run_cli, tmp_path):
    _sweep(run_cli, "rel", "noise.sigma2=1,2", "hydra.job.chdir=true")
    again = _sweep(run_cli, "rel", "noise.sigma2=1.0,2", "hydra.job.chdir=true")
    assert f"skipped noise.sigma2=1.0: the same run already completed in {tmp_path / 'rel' / 'noise.sigma2=1'}" \
        in again.stdout
    # A job folder given as a run folder: its '=' and ',' are quoted for Hydra.
    job = tmp_path / "rel" / "noise.sigma2=2"
    in_place = run_cli(f"resume={job}", f"hydra.run.dir={job}", "trainer.max_steps=8")
    assert in_place.returncode == 1 and "holds a completed run" in in_place.stderr, in_place.stderr[-2000:]


@pytest.mark.parametrize("stopped_by", ["SIGKILL", "Ctrl-C"])
def test_an_unfinished_run_under_another_name_is_continued_not_restarted(run_cli, tmp_path, stopped_by):
    sweep = tmp_path / "sweep"
    _sweep(run_cli, sweep, "noise.sigma2=1", "seed=0", "checkpoint.every_n_steps=2")  # no swept key: a long name
    (earlier,) = [p for p in sweep.iterdir() if p.is_dir()]
    summary = earlier / "summary.json"
    if stopped_by == "SIGKILL":  # no summary at all, a checkpoint
        summary.unlink()
    else:
        summary.write_text(json.dumps({**json.loads(summary.read_text()), "status": "interrupted"}))
    grown = _sweep(run_cli, sweep, "noise.sigma2=1.0,2")
    assert f"continuing from step 5 of {earlier / 'checkpoints' / 'last.ckpt'}" in grown.stderr
    assert json.loads((sweep / "noise.sigma2=1.0" / "summary.json").read_text())["resumed_from"] == \
        str(earlier / "checkpoints" / "last.ckpt")
