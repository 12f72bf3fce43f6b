"""Progress of a sweep's side-by-side jobs: whole lines at each tenth of the run, named by job."""

from __future__ import annotations

from types import SimpleNamespace

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
