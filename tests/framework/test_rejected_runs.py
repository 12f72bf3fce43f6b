"""A run stopped by bad input leaves no empty run folder; a sweep job stopped so is told apart from an unfinished one."""

from __future__ import annotations

from pathlib import Path

from tests.framework.bad_input_table import QUICK
from vae_collapse.report.runs import load_run
from vae_collapse.reporting.summary import REJECTED_FILE
from vae_collapse.training import sweep_report

# A sweep checks its jobs' values before it starts any (test_sweep_preflight); without that check
# a bad value is refused by its own job, as what only the data or the job's folder shows still is.
JOBS_CHECK_THEMSELVES = "~hydra.callbacks.sweep_preflight"


def test_a_rejected_single_run_leaves_no_folder(run_cli, tmp_path):
    result = run_cli(*QUICK, "optimizer.lr=-1")  # Hydra's default run folder, outputs/<name>/<time>
    assert result.returncode == 1
    assert "optimizer.lr=-1" in result.stderr
    assert not (tmp_path / "outputs").exists(), sorted(p.name for p in tmp_path.rglob("*"))


def test_a_rejected_sweep_job_is_not_sent_back_to_be_rerun(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    bad, good, added = (sweep / f"noise.sigma2={v}" for v in ("-1", "0.5", "0.2"))
    result = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=-1,0.5", f"hydra.sweep.dir={sweep}", JOBS_CHECK_THEMSELVES)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "job noise.sigma2=-1: error: noise.sigma2=-1 must be > 0" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "2 jobs: 1 completed, 1 rejected; rejected by bad input: noise.sigma2=-1" in last, last
    assert "re-run the same command to finish them" not in last
    assert (bad / REJECTED_FILE).read_text().strip() == "noise.sigma2=-1 must be > 0 and finite"
    assert (good / "summary.json").is_file()
    run = load_run(bad)
    assert (run.status, run.reason) == ("rejected", "stopped by bad input: noise.sigma2=-1 must be > 0 and finite")

    # The input fixed, the sweep re-run into its folder: the new value gets a folder of its own, the
    # completed job is skipped, and the line counts this command's jobs only.
    fixed = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.2,0.5", f"hydra.sweep.dir={sweep}")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert f"skipped {good}: already completed" in fixed.stdout
    assert load_run(added).status == "completed"
    assert "2 jobs: 2 completed (1 of them before, so skipped); 1 earlier job in the folder, not counted" in fixed.stdout.strip().splitlines()[-1]

    # A job whose folder holds another run is refused, and counted so: it did not run (seed 1 is not
    # swept, so it does not name the folder, which holds seed 0).
    before = (good / "summary.json").read_bytes()
    hydra_files = _hydra_files(good)
    clash = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.5,0.7", "seed=1", f"hydra.sweep.dir={sweep}")
    assert clash.returncode == 1, clash.stderr[-2000:]
    assert "2 jobs: 1 completed, 1 rejected" in clash.stderr.strip().splitlines()[-1]
    assert "rejected by bad input: noise.sigma2=0.5 " in clash.stderr.strip().splitlines()[-1]
    assert (good / "summary.json").read_bytes() == before  # the run there is untouched ...
    assert _hydra_files(good) == hydra_files
    assert load_run(good).status == "completed"  # ... and still in reports
    # The command that made it, again: the job is skipped as completed, and the note goes.
    again = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.2,0.5", f"hydra.sweep.dir={sweep}")
    assert again.returncode == 0 and "2 jobs: 2 completed" in again.stdout + again.stderr
    assert not (good / REJECTED_FILE).exists()


def test_a_job_without_summary_or_rejection_is_still_unfinished(tmp_path):
    job = tmp_path / "sweep" / "0"
    (job / ".hydra").mkdir(parents=True)
    line = sweep_report.describe(sweep_report.collect(tmp_path / "sweep"))
    assert "0 (no summary); re-run the same command to finish them" in line
    assert load_run(job).status == "unfinished"


def _hydra_files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / ".hydra").iterdir())}


def test_a_rejected_command_leaves_the_run_already_in_its_folder_as_it_was(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli(*QUICK, f"hydra.run.dir={run_dir}").returncode == 0
    before = load_run(run_dir).overrides
    assert "model.latent_dim=3" in before
    files = _hydra_files(run_dir)
    assert set(files) == {"config.yaml", "hydra.yaml", "overrides.yaml"}
    assert b"model.latent_dim=3" in files["overrides.yaml"]
    for refused in ("optimizer.lr=-1", "model.latent_dim=2"):  # bad input; another run
        assert run_cli(*QUICK, f"hydra.run.dir={run_dir}", refused).returncode == 1
        assert (run_dir / "summary.json").is_file()  # the completed run stays
        assert load_run(run_dir).overrides == before
        assert _hydra_files(run_dir) == files, refused  # Hydra's copy too, not the refused command's
    # The same command again is skipped, and keeps them too.
    assert run_cli(*QUICK, f"hydra.run.dir={run_dir}", "trainer.enable_model_summary=false").returncode == 0
    assert _hydra_files(run_dir) == files


def test_a_rejected_run_into_the_current_folder_keeps_the_folder(run_cli, tmp_path):
    result = run_cli(*QUICK, "hydra.run.dir=.", "optimizer.lr=-1")  # cwd is tmp_path, empty before
    assert result.returncode == 1
    assert tmp_path.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_folder_with_a_damaged_summary_is_not_written_over(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text('{"status": "completed", "metrics": {')  # hand-edited, cut short
    result = run_cli(*QUICK, f"hydra.run.dir={run_dir}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"vae-collapse: error: {run_dir / 'summary.json'}: unreadable, so which run this folder holds is unknown; "
        "choose a new output folder (hydra.run.dir=... or hydra.sweep.dir=...), or delete that file to use this one"]
    assert (run_dir / "summary.json").read_text() == '{"status": "completed", "metrics": {'


def test_resume_is_offered_only_for_a_folder_with_a_checkpoint(run_cli, tmp_path):
    kept, unkept = tmp_path / "kept", tmp_path / "unkept"
    assert run_cli(*QUICK, f"hydra.run.dir={kept}").returncode == 0
    assert run_cli(*QUICK, "checkpoint.enabled=false", f"hydra.run.dir={unkept}").returncode == 0
    for folder, offered in ((kept, True), (unkept, False)):
        result = run_cli(*QUICK, "model.latent_dim=2", f"hydra.run.dir={folder}")
        assert result.returncode == 1 and "already holds another run" in result.stderr
        assert (f"resume={folder}" in result.stderr) == offered, result.stderr


def test_refusals_found_after_the_folder_check_keep_the_runs_hydra_files_too(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli(*QUICK, "checkpoint.every_n_steps=5", f"hydra.run.dir={run_dir}").returncode == 0
    files = _hydra_files(run_dir)
    (run_dir / "summary.json").unlink()  # killed: its checkpoint is what says what it was
    # Accepted as the run to continue in its folder, then refused: it would end before its checkpoint's step.
    refused = run_cli(f"resume={run_dir}", "trainer.max_steps=2", f"hydra.run.dir={run_dir}")
    assert refused.returncode == 1 and "before its checkpoint's step 5" in refused.stderr, refused.stderr
    assert _hydra_files(run_dir) == files
    # A run killed before its first checkpoint has only its .hydra/ to say what it was.
    (run_dir / "checkpoints" / "last.ckpt").unlink()
    assert run_cli(*QUICK, "optimizer.lr=-1", f"hydra.run.dir={run_dir}").returncode == 1
    assert _hydra_files(run_dir) == files
    assert load_run(run_dir).config["model"]["latent_dim"] == 3


def test_a_hydra_record_that_cannot_be_written_is_one_line(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".hydra").write_text("a file where the folder goes")
    result = run_cli(*QUICK, f"hydra.run.dir={run_dir}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"vae-collapse: error: cannot write {run_dir / '.hydra'}")
    assert (run_dir / ".hydra").read_text() == "a file where the folder goes"


def test_a_completed_run_is_not_resumed_over_itself(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli(*QUICK, f"hydra.run.dir={run_dir}").returncode == 0
    before = (run_dir / "summary.json").read_bytes()
    result = run_cli(f"resume={run_dir}", "trainer.max_steps=8", f"hydra.run.dir={run_dir}")
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        f"vae-collapse: error: {run_dir} holds a completed run (trainer.max_steps=5 there, 8 here): resumed in its "
        "own folder it would replace that run's results; leave out hydra.run.dir, and the resumed run gets a folder "
        "of its own beside it"]
    assert (run_dir / "summary.json").read_bytes() == before
    # The same command again, in its own folder, is still a skip.
    again = run_cli(f"resume={run_dir}", f"hydra.run.dir={run_dir}")
    assert again.returncode == 0 and "skipped" in again.stdout


def test_a_sweep_command_that_bad_input_stops_keeps_the_sweeps_record(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    assert run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.2,0.5", f"hydra.sweep.dir={sweep}").returncode == 0
    record = (sweep / "multirun.yaml").read_bytes()
    assert b"noise.sigma2=0.2,0.5" in record
    refused = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=-1,-2", f"hydra.sweep.dir={sweep}", JOBS_CHECK_THEMSELVES)
    assert refused.returncode == 1 and "2 rejected" in refused.stderr
    assert (sweep / "multirun.yaml").read_bytes() == record
    # A command that runs something is the sweep's latest: its record stays (seed=1 is refused in the
    # folder noise.sigma2=0.2, which holds seed 0, and runs in the new noise.sigma2=0.7).
    partly = run_cli("-m", *QUICK, "noise=fixed", "noise.sigma2=0.2,0.7", "seed=1", f"hydra.sweep.dir={sweep}")
    assert partly.returncode == 1 and "1 completed, 1 rejected" in partly.stderr
    assert b"noise.sigma2=0.2,0.7" in (sweep / "multirun.yaml").read_bytes()


def test_a_sweep_whose_jobs_cannot_be_composed_leaves_nothing_behind(run_cli, tmp_path):
    result = run_cli("-m", *QUICK, "eval.epz=1,2")  # Hydra's default folder, multirun/<name>/<time>
    assert result.returncode == 1 and "eval has no key epz" in result.stderr
    assert not (tmp_path / "multirun").exists()
    sweep = tmp_path / "sweep"
    assert run_cli("-m", *QUICK, "seed=0,1", f"hydra.sweep.dir={sweep}").returncode == 0
    record = (sweep / "multirun.yaml").read_bytes()
    assert run_cli("-m", *QUICK, "seed=0,1", "eval.epz=1,2", f"hydra.sweep.dir={sweep}").returncode == 1
    assert (sweep / "multirun.yaml").read_bytes() == record


def test_a_sweep_job_folder_holding_other_files_is_rejected_every_time_and_counted(run_cli, tmp_path):
    # The job's log was deleted and no .hydra/ written, so the sweep counted only its other job and
    # exited 0; its rejected.txt then let a second attempt run into the user's csv/.
    sweep = tmp_path / "sweep"
    theirs = sweep / "seed=0" / "csv" / "metrics.csv"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("step,mine\n0,1\n")
    for attempt in (1, 2):
        result = run_cli("-m", *QUICK, "seed=0,1", f"hydra.sweep.dir={sweep}")
        assert result.returncode == 1, (attempt, result.stderr[-2000:])
        assert f"its job folder {sweep / 'seed=0'} holds files that are not a run's (csv/)" in result.stderr
        assert "1 rejected" in result.stderr.strip().splitlines()[-1], result.stderr[-1000:]
        assert theirs.read_text() == "step,mine\n0,1\n" and sorted(p.name for p in theirs.parent.iterdir()) == ["metrics.csv"]
    assert (sweep / "seed=1" / "summary.json").is_file()
