"""A sweep grown in its folder: the runs already there are found, whatever their folders are called."""

from __future__ import annotations

import json

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
