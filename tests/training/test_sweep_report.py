"""The sweep's last line counts the jobs of this command, not every job folder a re-used sweep folder holds."""

from __future__ import annotations

import json
import os
import time

import pytest

from vae_collapse.training import sweep_report


def _job(sweep, name: str, status: str, age: float) -> None:
    """A job folder whose log was last written ``age`` seconds ago."""
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / "summary.json").write_text(json.dumps({"status": status}))
    log = job / "cli.log"
    log.write_text("a line\n")
    then = time.time() - age
    os.utime(log, (then, then))
    os.utime(job / "summary.json", (then, then))


@pytest.fixture
def started(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    start = sweep_report.SweepStart(sweep, time.time() - 60, None, "cli.log")
    monkeypatch.setattr(sweep_report, "START", start)
    return sweep


def test_jobs_of_an_earlier_command_are_counted_apart(started):
    _job(started, "noise.sigma2=0.1", "failed", age=3600)  # an earlier command's
    _job(started, "noise.sigma2=0.5", "completed", age=10)  # this command's: skipped or run
    _job(started, "noise.sigma2=1.0", "completed", age=5)
    outcome = sweep_report.collect(started)
    assert outcome.statuses == {"noise.sigma2=0.5": "completed", "noise.sigma2=1.0": "completed"}
    assert outcome.all_completed  # the earlier failure is not this command's to report
    line = sweep_report.describe(outcome)
    assert line.endswith("2 jobs: 2 completed; 1 earlier job in the folder, not counted"), line


def test_without_a_start_every_job_folder_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_report, "START", None)
    _job(tmp_path, "seed=0", "failed", age=3600)
    _job(tmp_path, "seed=1", "completed", age=5)
    assert sweep_report.collect(tmp_path).statuses == {"seed=0": "failed", "seed=1": "completed"}


def test_job_names_with_commas_are_bracketed_in_lists(started):
    for seed in (0, 1):
        _job(started, f"noise.sigma2=1.0,seed={seed}", "failed", age=1)
    line = sweep_report.describe(sweep_report.collect(started))
    assert "; failed: [noise.sigma2=1.0,seed=0], [noise.sigma2=1.0,seed=1] (each job's" in line, line


def test_completed_jobs_this_command_only_skipped_are_counted_as_such(started):
    _job(started, "noise.sigma2=0.5", "completed", age=3600)  # its summary is from an earlier command ...
    os.utime(started / "noise.sigma2=0.5" / "cli.log")  # ... and this one wrote a line: skipped
    _job(started, "noise.sigma2=1.0", "completed", age=5)  # ran now
    line = sweep_report.describe(sweep_report.collect(started))
    assert line.endswith("2 jobs: 2 completed (1 of them before, so skipped)"), line


def test_a_sweep_that_counted_no_job_is_not_a_success(started):
    started.mkdir()
    outcome = sweep_report.collect(started)
    assert outcome.statuses == {} and not outcome.all_completed


def test_a_stopped_sweep_says_how_to_run_the_jobs_that_never_started(started):
    _job(started, "seed=0", "completed", age=10)
    done = sweep_report.describe(sweep_report.collect(started), stopped=True)
    assert done.endswith(": 1 job started: 1 completed; re-run the same command to run any jobs that had not started")
    _job(started, "seed=1", "interrupted", age=5)
    line = sweep_report.describe(sweep_report.collect(started), stopped=True)
    assert line.endswith("not completed: seed=1 (interrupted); re-run the same command to finish them "
                         "(and any jobs that had not started)")
    assert "had not started" not in sweep_report.describe(sweep_report.collect(started))
