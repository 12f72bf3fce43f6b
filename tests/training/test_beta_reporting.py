"""Which step each reported KL weight beta belongs to, under a KL warm-up the run cuts off.

Step s (global_step = s updates done) trains with beta(s), and metrics.csv logs that. summary.json
describes the final model, after all steps: its train/beta is the schedule where the run ends,
beta(steps), which the warning of an unfinished warm-up names first (with the last step's weight
beside it); val/beta is the schedule one step later than the training row it shares (validation
runs with global_step advanced), at the last epoch's end.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
import subprocess

import pytest

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger

from tests.conftest import SCRIPT
from vae_collapse.data import SyntheticPPCADataModule
from vae_collapse.models import FixedNoise, KLAnnealing, LinearVAE
from vae_collapse.training.lit_module import VAEModule


def _warned_betas(text: str) -> tuple[float, float]:
    """(where the schedule ends, what the last step trains with), as the warning gives them."""
    found = re.search(r"schedule ends at beta = ([0-9.]+) \(summary.json's train/beta; its last step trains "
                      r"with ([0-9.]+)\)", text)
    return float(found.group(1)), float(found.group(2))


def _rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_warning_names_where_the_schedule_ends_and_what_the_last_step_trains_with():
    noise = KLAnnealing(FixedNoise(0.1), warmup_steps=1000)
    assert _warned_betas(noise.unfinished_schedule(100)) == (pytest.approx(noise.beta(100)), pytest.approx(noise.beta(99)))
    assert _warned_betas(noise.unfinished_schedule(100)) == (pytest.approx(0.1), pytest.approx(0.099))


def test_logged_train_and_val_beta_are_the_schedule_at_the_step_each_was_scored_at(tmp_path):
    """16-batch epochs, 40 steps: training rows carry beta(step); validation after step 15 carries beta(16)."""
    torch.manual_seed(0)
    noise = KLAnnealing(FixedNoise(0.1), warmup_steps=1000)
    module = VAEModule(LinearVAE(6, 3, noise), functools.partial(torch.optim.Adam, lr=1e-2))
    datamodule = SyntheticPPCADataModule(data_dim=6, spectrum=[4.0, 1.0], sigma2=0.1, n_train=160, n_val=40,
                                         n_test=10, seed=0, batch_size=10)
    trainer = pl.Trainer(max_steps=40, log_every_n_steps=5, logger=CSVLogger(tmp_path), enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(module, datamodule=datamodule)
    rows = _rows(next(tmp_path.rglob("metrics.csv")))
    train = {int(r["step"]): float(r["train/beta"]) for r in rows if r.get("train/beta")}
    val = {int(r["step"]): float(r["val/beta"]) for r in rows if r.get("val/beta")}
    assert all(beta == pytest.approx(noise.beta(step)) for step, beta in train.items())
    assert train[39] == pytest.approx(_warned_betas(noise.unfinished_schedule(40))[1])  # the last step's weight
    assert val == {15: pytest.approx(noise.beta(16)), 31: pytest.approx(noise.beta(32))}  # none after step 39
    assert float(trainer.callback_metrics["val/beta"]) == pytest.approx(0.032)  # summary.json's is the end's


def test_summary_train_beta_is_where_the_schedule_ends_as_warned(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "WANDB_MODE": "disabled", "VAE_COLLAPSE_DATA": str(tmp_path / "data")}
    done = subprocess.run([str(SCRIPT), "dataset=synthetic_ppca", "model.latent_dim=3", "noise=kl_anneal", "dataset.n_val=100",
                           "noise.warmup_steps=1000", "trainer.max_steps=50", "eval.iwae_samples=0", "logger=csv",
                           "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    last_logged = [float(r["train/beta"]) for r in _rows(run_dir / "csv" / "metrics.csv")
                   if r.get("train/beta") and int(r["step"]) == 49]
    summary = json.loads((run_dir / "summary.json").read_text())["metrics"]
    assert _warned_betas(done.stderr) == (pytest.approx(0.05), pytest.approx(0.049))
    assert last_logged == [pytest.approx(0.049)]
    assert summary["train/beta"] == pytest.approx(0.05) == summary["val/beta"]
