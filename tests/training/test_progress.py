"""Progress of a sweep's side-by-side jobs: whole lines at each tenth of the run, named by job."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vae_collapse.training.progress import StepProgressBar


def _trainer(step: int, max_steps: int = 200):
    return SimpleNamespace(global_step=step, max_steps=max_steps, global_rank=0,
                           progress_bar_metrics={"elbo": -12.345678, "sigma2": 0.5, "other": 1.0})


def test_a_parallel_job_prints_one_line_per_tenth_of_its_run(capsys):
    bar = StepProgressBar(job=3)
    bar.on_train_start(_trainer(0), None)
    for step in range(1, 201):
        bar.on_train_batch_end(_trainer(step), None, None, None, step)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("vae-collapse: job 3: step 20/200 (10%), elbo=-12.35, sigma2=0.5; ")
    assert "left" in lines[0] and "left" not in lines[-1] and "step 200/200 (100%)" in lines[-1]


def test_a_resumed_parallel_job_goes_on_from_its_step(capsys):
    bar = StepProgressBar(job=0)
    bar.on_train_start(_trainer(150), None)
    for step in range(151, 201):
        bar.on_train_batch_end(_trainer(step), None, None, None, step)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "vae-collapse: job 0: step 160/200", "vae-collapse: job 0: step 180/200", "vae-collapse: job 0: step 200/200"]


def test_a_job_bounded_by_epochs_counts_its_tenths_too(capsys):
    # trainer.max_steps=-1 trainer.max_epochs=2, 10 batches an epoch: 20 steps, which the bar did not know.
    def trainer(step):
        return SimpleNamespace(global_step=step, max_steps=-1, max_epochs=2, num_training_batches=10, global_rank=0,
                               progress_bar_metrics={})

    bar = StepProgressBar(job=1)
    bar.on_train_start(trainer(0), None)
    for step in range(1, 21):
        bar.on_train_batch_end(trainer(step), None, None, None, step)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10 and "step 20/20 (100%)" in lines[-1]


def _logging_trainer(step: int, values_at: int, max_steps: int = 100, every: int = 50):
    """A trainer whose module logged its ELBO last at step ``values_at`` (as metrics.csv numbers steps)."""
    epoch_loop = SimpleNamespace(_batches_that_stepped=step - 1)  # not yet advanced at on_train_batch_end
    return SimpleNamespace(global_step=step, max_steps=max_steps, global_rank=0, log_every_n_steps=every,
                           fit_loop=SimpleNamespace(epoch_loop=epoch_loop),
                           progress_bar_metrics={"elbo": -float(values_at), "sigma2": 0.1})


def test_a_line_between_logging_steps_says_which_step_its_values_are_from(capsys):
    bar = StepProgressBar(job=1)
    bar.on_train_start(_logging_trainer(0, 0), None)
    for step in range(1, 101):
        logged = max((s for s in range(step) if (s + 1) % 50 == 0 or s == 99), default=0)
        bar.on_train_batch_end(_logging_trainer(step, logged), None, None, None, step - 1)
    lines = [line.split(";")[0] for line in capsys.readouterr().err.splitlines()]
    assert lines[5] == "vae-collapse: job 1: step 60/100 (60%), elbo=-49, sigma2=0.1 (at step 49)"
    assert lines[4] == "vae-collapse: job 1: step 50/100 (50%), elbo=-49, sigma2=0.1"  # logged by the step just done
    assert lines[9] == "vae-collapse: job 1: step 100/100 (100%), elbo=-99, sigma2=0.1"


def test_the_lines_of_a_real_run_show_the_values_metrics_csv_has_at_that_step(tmp_path, capsys):
    """Fit a linear VAE 100 steps, logging every 50: each line's ELBO is metrics.csv's at the step it names."""
    import csv
    import functools
    import re

    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.loggers import CSVLogger

    from vae_collapse.data import SyntheticPPCADataModule
    from vae_collapse.models import FixedNoise, LinearVAE
    from vae_collapse.training.lit_module import VAEModule

    torch.manual_seed(0)
    module = VAEModule(LinearVAE(6, 3, FixedNoise(0.5)), functools.partial(torch.optim.Adam, lr=1e-2))
    trainer = pl.Trainer(max_steps=100, log_every_n_steps=50, logger=CSVLogger(tmp_path),
                         callbacks=[StepProgressBar(job=0)], enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    trainer.fit(module, datamodule=SyntheticPPCADataModule(data_dim=6, spectrum=[4.0, 1.0], sigma2=0.1, n_train=200,
                                                           n_test=50, seed=0))
    with open(next(tmp_path.rglob("metrics.csv")), newline="") as handle:
        elbo = {int(r["step"]): float(r["train/elbo"]) for r in csv.DictReader(handle) if r.get("train/elbo")}
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("vae-collapse: job 0: step")]
    assert len(lines) == 10
    for line in lines:
        done = int(re.search(r"step (\d+)/100", line).group(1))
        shown = re.search(r"elbo=(\S+?),", line)
        at = re.search(r"\(at step (\d+)\)", line)
        if done < 50:
            assert shown is None, line  # nothing logged yet
            continue
        step = int(at.group(1)) if at else done - 1
        assert step == max(s for s in elbo if s < done), line
        assert float(shown.group(1)) == pytest.approx(elbo[step], rel=1e-3), line


@pytest.mark.parametrize(
    ("launcher", "in_worker", "side_by_side"),
    [
        ("hydra._internal.core_plugins.basic_launcher.BasicLauncher", False, False),
        ("hydra_plugins.vae_collapse_launchers.stoppable_joblib.StoppableJoblibLauncher", True, True),
        # hydra.launcher.n_jobs=1: joblib runs the jobs one by one in the sweep's own process
        ("hydra_plugins.vae_collapse_launchers.stoppable_joblib.StoppableJoblibLauncher", False, False),
        ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher", False, True),
    ],
)
def test_only_jobs_that_run_side_by_side_give_up_their_progress_bar(monkeypatch, launcher, in_worker, side_by_side):
    from hydra.core.hydra_config import HydraConfig

    from vae_collapse.training import interrupts, progress, sweep_jobs

    monkeypatch.setattr(sweep_jobs, "current_job", lambda: "noise.sigma2=1")
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: SimpleNamespace(launcher={"_target_": launcher})))
    monkeypatch.setattr(interrupts, "_pool_worker", in_worker)
    assert progress.parallel_job() == ("noise.sigma2=1" if side_by_side else None)
