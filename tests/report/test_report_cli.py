"""``vae-collapse-report`` the way a user runs it: in a subprocess, on real runs and on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPORT = Path(sys.executable).parent / "vae-collapse-report"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_report(cwd: Path, *args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_SILENT": "true", "VAE_COLLAPSE_DATA": str(cwd / "data"), **(env or {})}
    if "WANDB_MODE" not in (env or {}):
        env.pop("WANDB_MODE", None)
    return subprocess.run([str(REPORT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vae-collapse-report: error: "), lines[0]
    return lines[0]


def test_a_missing_path_is_one_line_and_writes_nothing(tmp_path):
    result = run_report(tmp_path, "nope", "--out", "rep", "--wandb", "disabled")
    assert result.returncode == 1
    assert "PATH nope does not exist" in one_error_line(result)
    assert not (tmp_path / "rep").exists()


def test_nothing_to_report_is_a_usage_error(tmp_path):
    result = run_report(tmp_path)
    assert result.returncode == 2
    assert "--spectrum-from" in one_error_line(result)


def test_bad_spectrum_source_is_one_line(tmp_path):
    result = run_report(tmp_path, "--spectrum-from", "dataset=nope", "--wandb", "disabled")
    assert result.returncode == 1
    assert "dataset" in one_error_line(result) and "synthetic_ppca" in result.stderr


def test_run_folders_after_the_spectrum_source_are_told_to_go_first(tmp_path):
    (tmp_path / "runs").mkdir()
    result = run_report(tmp_path, "--spectrum-from", "dataset=synthetic_ppca", "runs", "--wandb", "disabled")
    assert result.returncode == 1
    assert one_error_line(result).endswith("(run folders go before --spectrum-from: PATH ... --spectrum-from ...)")


def test_a_misspelled_spectrum_key_is_named_with_the_keys_it_could_be(tmp_path):
    result = run_report(tmp_path, "--spectrum-from", "dataset=synthetic_ppca", "dataset.n_trian=10", "--out", "f",
                        "--wandb", "disabled")
    assert result.returncode == 1
    assert ("--spectrum-from: cannot override dataset.n_trian: dataset=synthetic_ppca has no key n_trian (its keys: "
            in one_error_line(result))
    assert not (tmp_path / "f").exists()


def test_bad_figure1_directions_leave_no_report_folder(tmp_path):
    result = run_report(tmp_path, "--spectrum-from", "dataset=synthetic_ppca", "--directions", "1,1", "--out", "f",
                        "--wandb", "disabled")
    assert result.returncode == 1 and "--directions 1,1: need two different indices" in one_error_line(result)
    assert not (tmp_path / "f").exists()


def test_figure1_alone_from_a_data_set_on_the_command_line(tmp_path):
    result = run_report(tmp_path, "--spectrum-from", "dataset=synthetic_ppca", "--out", "fig1", "--wandb", "disabled")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fig1" / "fig1_ppca_surface.png").read_bytes()[:8] == PNG_SIGNATURE
    data = json.loads((tmp_path / "fig1" / "report.json").read_text())
    assert [f["number"] for f in data["figures"]] == [1]
    fig1 = data["figures"][0]["data"]
    # synthetic_ppca: true covariance eigenvalues 8 + 0.1 and 4 + 0.1, seen through 2000 samples.
    assert fig1["eigenvalues"][0] == pytest.approx(8.1, rel=0.15)
    assert fig1["eigenvalues"][1] == pytest.approx(4.1, rel=0.15)
    assert [p["regime"] for p in fig1["panels"]] == ["saddle", "partly stable", "stable"]
    # named as the runs' figures name data (no class suffix), with no parentheses inside the title's own
    assert fig1["source"] == "SyntheticPPCA, 2000 train; --spectrum-from dataset=synthetic_ppca"


def test_two_real_runs_then_the_report_with_offline_wandb(run_cli, tmp_path):
    """A 2-seed sweep on synthetic pPCA data, reported as one setting, figures in an offline W&B run."""
    runs = run_cli("-m", "dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=40", "seed=0,1",
                   "logger=csv", "eval.iwae_samples=5", "trainer.log_every_n_steps=10",
                   "trainer.enable_progress_bar=false", "hydra.sweep.dir=sweep")
    assert runs.returncode == 0, runs.stderr[-3000:]
    result = run_report(tmp_path, "sweep", "--wandb", "offline")
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "sweep" / "report"
    data = json.loads((out / "report.json").read_text())
    assert data["runs"]["by_status"] == {"completed": 2}
    (group,) = data["groups"]
    assert group["n"] == 2 and sorted(group["seeds"]) == [0, 1]
    elbo = group["metrics"]["train/elbo"]
    finals = [json.loads((tmp_path / "sweep" / f"seed={j}" / "summary.json").read_text())["metrics"]["train/elbo"]
              for j in (0, 1)]
    assert elbo["mean"] == pytest.approx(sum(finals) / 2)
    assert elbo["std"] == pytest.approx(abs(finals[0] - finals[1]) / 2**0.5)
    numbers = sorted(f["number"] for f in data["figures"])
    assert numbers == [1, 2, 5]  # the spectrum, the linear ELBO curve, the column norms
    for fig in data["figures"]:
        assert (out / fig["file"]).read_bytes()[:8] == PNG_SIGNATURE
        assert f"]({fig['file']})" in (out / "REPORT.md").read_text()
    # The offline W&B run holds the same figures.
    wandb_info = data["wandb"]
    assert wandb_info["mode"] == "offline" and wandb_info["group"] == "default-sweep"
    assert sorted(wandb_info["logged"]) == sorted(
        [f"report/fig{f['number']}/{f['id']}" for f in data["figures"]] + ["report/settings", "report/table1"])
    run_dir = out / wandb_info["dir"]
    assert run_dir.name.startswith("offline-run-") and list(run_dir.glob("*.wandb"))
    images = list(run_dir.glob("files/media/images/**/*.png"))
    assert len(images) == len(data["figures"])


def test_an_unwritable_out_is_one_line(tmp_path):
    from tests.report import fakes

    run = tmp_path / "sweep" / "0"
    fakes.make_run(run, fakes.config("x", 0, run, fakes.noise_fixed(0.1)), None)
    (tmp_path / "afile").write_text("not a folder")
    result = run_report(tmp_path, "sweep", "--out", "afile/report", "--wandb", "disabled")
    assert result.returncode == 1
    assert "cannot write afile/report (Not a directory); give a writable --out" in one_error_line(result)


def test_a_bad_wandb_mode_variable_is_one_line_before_anything_is_written(tmp_path):
    from tests.report import fakes

    run = tmp_path / "runs" / "0"
    fakes.make_run(run, fakes.config("x", 0, run, fakes.noise_fixed(0.1)), None)
    # It was wandb's traceback, after the report's files were written.
    result = run_report(tmp_path, "runs", "--out", "rep", env={"WANDB_MODE": "sometimes"})
    assert result.returncode == 1
    assert "WANDB_MODE='sometimes' (the environment variable): expected one of" in one_error_line(result)
    assert not (tmp_path / "rep").exists()
    assert run_report(tmp_path, "runs", "--out", "rep", "--wandb", "disabled",
                      env={"WANDB_MODE": "sometimes"}).returncode == 0  # not used, so not refused


def test_only_unfinished_runs_warn(tmp_path):
    from tests.report import fakes

    run = tmp_path / "sweep" / "0"
    fakes.make_run(run, fakes.config("x", 0, run, fakes.noise_fixed(0.1)), None)
    result = run_report(tmp_path, "sweep", "--wandb", "disabled")
    assert result.returncode == 0, result.stderr
    assert "vae-collapse-report: warning: no completed runs (1 unfinished)" in result.stderr
    assert "  1 run (0 completed, 1 not used: 1 unfinished), 0 settings" in result.stdout
    # A report read through `| head` stops quietly, without a BrokenPipeError traceback.
    piped = subprocess.run(f"'{REPORT}' sweep --wandb disabled --out rep2 | head -c 1", shell=True, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, env={**os.environ, "WANDB_MODE": "disabled"})
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr


def test_a_folder_without_runs_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    result = run_report(tmp_path, "empty", "--wandb", "disabled")
    assert result.returncode == 1
    assert "no run folders under empty" in one_error_line(result)
    assert not (tmp_path / "empty" / "report").exists()


def test_a_run_folder_as_out_is_refused_and_left_as_it_was(tmp_path):
    from tests.report import fakes

    runs = [tmp_path / "sweep" / str(seed) for seed in (0, 1)]
    for seed, run in enumerate(runs):
        fakes.make_run(run, fakes.config("x", seed, run, fakes.noise_fixed(0.1)), fakes.deep_metrics(-1.0, 2))
    before = sorted(p.name for p in runs[0].rglob("*"))
    result = run_report(tmp_path, "sweep", "--out", "sweep/0", "--wandb", "disabled")
    assert result.returncode == 1
    assert "--out sweep/0: is a run folder" in one_error_line(result)
    assert sorted(p.name for p in runs[0].rglob("*")) == before


def test_an_out_folder_with_the_users_own_report_md_is_refused_and_left_as_it_was(tmp_path):
    from tests.report import fakes

    run = tmp_path / "sweep" / "0"
    fakes.make_run(run, fakes.config("x", 0, run, fakes.noise_fixed(0.1)), fakes.deep_metrics(-1.0, 2))
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "REPORT.md").write_text("my draft")
    result = run_report(tmp_path, "sweep", "--out", "paper", "--wandb", "disabled")
    assert result.returncode == 1
    assert "--out paper: holds REPORT.md, not written by vae-collapse-report" in one_error_line(result)
    assert sorted(p.name for p in (tmp_path / "paper").iterdir()) == ["REPORT.md"]
    assert (tmp_path / "paper" / "REPORT.md").read_text() == "my draft"
    # A folder an earlier report wrote is written over, and other files beside it are fine.
    assert run_report(tmp_path, "sweep", "--out", "ours", "--wandb", "disabled").returncode == 0
    (tmp_path / "ours" / "notes.txt").write_text("mine")
    again = run_report(tmp_path, "sweep", "--out", "ours", "--wandb", "disabled")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "ours" / "notes.txt").read_text() == "mine"


def test_a_negative_value_after_an_option_is_checked_as_a_value(tmp_path, capsys):
    from vae_collapse.report.cli import main

    for option, value, why in (("--sigma2", "-1,2", "expected three sigma^2 values"),
                               ("--directions", "-1", "expected two 1-based eigenvalue indices")):
        with pytest.raises(SystemExit) as stopped:
            main([str(tmp_path), option, value])
        assert stopped.value.code == 2
        assert f"argument {option}: '{value}': {why}" in capsys.readouterr().err


@pytest.mark.parametrize("name, content", [
    ("summary.json", b'{"status": "completed", "metrics": {"a": 1}}\n{"b": 2, "c": 3, "d": 4, "e": [5, 6]}\n{"f": 7}\n'),
    ("collapse_curve.png", b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary"),
])
def test_a_spectrum_file_that_is_no_spectrum_is_one_line(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    result = run_report(tmp_path, "--spectrum-from", name, "--out", "rep", "--wandb", "disabled")
    assert result.returncode == 1
    assert f"--spectrum-from {name}: expected a data_spectrum.csv" in one_error_line(result)


def test_a_damaged_row_in_a_runs_training_log_does_not_stop_the_report(tmp_path):
    from tests.report import fakes

    run = tmp_path / "sweep" / "0"
    cfg = fakes.config("x", 0, run, fakes.noise_learned(1.0), model=fakes.LINEAR)
    fakes.make_run(run, cfg, {"train/elbo": -95.0, "ppca/log_px": -90.0, "train/sigma2": 0.3, "time/steps": 30})
    fakes.metrics_log(run, [-200.0, -120.0, -95.0], -90.0)  # Figure 2 draws it
    log = run / "csv" / "metrics.csv"
    log.write_text(log.read_text() + "7,-91,3,4,5,6,7,8,9,10,11\n")  # more cells than the header has columns
    result = run_report(tmp_path, "sweep", "--out", "rep", "--wandb", "disabled")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "rep" / "REPORT.md").is_file()


def test_a_folder_of_links_to_runs_is_reported_and_a_link_loop_ends(tmp_path):
    from tests.report import fakes

    run = tmp_path / "store" / "run-a"
    fakes.make_run(run, fakes.config("x", 0, run, fakes.noise_fixed(0.1)), fakes.deep_metrics(-90.0, 2))
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "a").symlink_to(run, target_is_directory=True)
    (chosen / "loop").symlink_to(chosen, target_is_directory=True)
    result = run_report(tmp_path, "chosen", "--out", "rep", "--wandb", "disabled")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 run directories: 1 completed" in (tmp_path / "rep" / "REPORT.md").read_text()


def _linear_run(run: Path) -> Path:
    from tests.report import fakes

    cfg = fakes.config("x", 0, run, fakes.noise_learned(1.0), model=fakes.LINEAR)
    fakes.make_run(run, cfg, {"train/elbo": -95.0, "ppca/log_px": -90.0, "train/sigma2": 0.3, "time/steps": 30,
                              "collapse/collapsed_fraction": 0.0})
    fakes.metrics_log(run, [-200.0, -120.0, -95.0], -90.0)
    fakes.spectrum(run)
    fakes.write_csv(run / "decoder_column_norms.csv", ["column", "norm2"], [[j, v] for j, v in enumerate([0.2, 4.7, 1.7, 2.7])])
    fakes.collapse_curve(run, [1.0, 0.8, 0.5, 0.3])
    return run


def test_a_sweep_jobs_spectrum_is_read_as_a_path_despite_the_equals_sign(tmp_path):
    run = _linear_run(tmp_path / "sweep" / "noise.sigma2=1")
    for source in (run, run / "data_spectrum.csv"):
        result = run_report(tmp_path, "sweep", "--spectrum-from", str(source), "--out", "rep", "--wandb", "disabled")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "data_spectrum.csv" in json.loads((tmp_path / "rep" / "report.json").read_text())["figures"][0]["caption"]


def test_spectrum_overrides_that_do_not_choose_the_data_are_refused(tmp_path):
    result = run_report(tmp_path, "--spectrum-from", "dataset=synthetic_ppca", "model.latent_dim=3", "--out", "f",
                        "--wandb", "disabled")
    assert result.returncode == 1
    assert one_error_line(result).startswith("vae-collapse-report: error: --spectrum-from model.latent_dim=3: does "
                                             "not change the data (dataset.*, paths.*, seed)")
    assert not (tmp_path / "f").exists()


def test_a_preset_that_sets_the_data_is_a_spectrum_source_and_a_key_beside_it_is_not():
    from vae_collapse.report.errors import ReportError
    from vae_collapse.report.spectrum_source import from_overrides

    # refused before any data is read; the preset (it sets dataset.subset=1000) is not named
    with pytest.raises(ReportError, match=r"^--spectrum-from model.latent_dim=3: does not change the data"):
        from_overrides(["experiment=linear_mnist_1k", "model.latent_dim=3"])


@pytest.mark.parametrize("args, says", [
    (("sw/noise.sigma2=2",), "--spectrum-from sw/noise.sigma2=2: no such file or folder"),
    (("dataset=synthetic_ppca", "sw/noise.sigma2=1"),
     "(no such file or folder): expected Hydra overrides such as dataset=mnist"),
])
def test_a_sweep_job_folder_that_is_not_there_is_named_as_a_path(tmp_path, args, says):
    result = run_report(tmp_path, "--spectrum-from", *args, "--out", "f", "--wandb", "disabled")
    assert result.returncode == 1 and says in one_error_line(result)


@pytest.mark.parametrize("damage, warning", [
    (lambda run: (run / "data_spectrum.csv").write_text("index,eigenvalue\n1,abc\n"),
     "data_spectrum.csv: values that are not numbers; the figures drawn from it leave this run out"),
    (lambda run: (run / "data_spectrum.csv").write_text("index,eigenvalue\n1,5.0\n2,3.0\n"),
     "data_spectrum.csv: 2 eigenvalues, fewer than the 4 decoder columns (cut short?); figure 5 draws only these"),
    (lambda run: (run / "collapse_curve.csv").write_text("x,y\n"),
     "collapse_curve.csv: no column 'eps', 'collapsed_fraction or fraction_collapsed'"),
    (lambda run: (run / "collapse_curve.csv").write_text("eps,collapsed_fraction\n0.01,abc\n0.1,abc\n"),
     "collapse_curve.csv: values that are not numbers; the figures drawn from it leave this run out"),
    (lambda run: (run / "csv" / "metrics.csv").write_bytes(b"garbage\x00\x01,,\n\"unterminated\n"),
     "csv/metrics.csv: no column 'step'; the run's training curves are not drawn"),
])
def test_a_damaged_file_in_a_run_is_named_and_the_report_is_written(tmp_path, damage, warning):
    run = _linear_run(tmp_path / "runs" / "0")
    damage(run)
    result = run_report(tmp_path, "runs", "--out", "rep", "--wandb", "disabled")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"vae-collapse-report: warning: {run / warning.split(';')[0]}" in result.stderr
    assert warning in result.stderr
    assert (tmp_path / "rep" / "REPORT.md").is_file() and "## Files that could not be read" in (tmp_path / "rep" / "REPORT.md").read_text()
    problems = json.loads((tmp_path / "rep" / "report.json").read_text())["damaged_files"][0]["problems"]
    assert any(warning in p for p in problems)


def test_summary_metrics_that_are_not_numbers_are_named_and_a_completed_run_without_metrics_is_unreadable(tmp_path):
    run = _linear_run(tmp_path / "runs" / "0")
    summary = json.loads((run / "summary.json").read_text())
    summary["metrics"]["train/elbo"] = "abc"
    (run / "summary.json").write_text(json.dumps(summary))
    empty = _linear_run(tmp_path / "runs" / "1")
    summary = json.loads((empty / "summary.json").read_text())
    del summary["metrics"]
    (empty / "summary.json").write_text(json.dumps(summary))
    result = run_report(tmp_path, "runs", "--out", "rep", "--wandb", "disabled")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{run / 'summary.json'}: metrics['train/elbo'] is 'abc', not a number; it reads n/a" in result.stderr
    excluded = json.loads((tmp_path / "rep" / "report.json").read_text())["excluded"]
    assert [(e["status"], e["reason"]) for e in excluded] == [("unreadable", "summary.json: status completed, but no metrics")]


def test_a_summary_of_another_tool_is_named_when_nothing_else_is_found(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "summary.json").write_text('{"status": "completed", "metrics": {"a": 1}}')
    result = run_report(tmp_path, "other", "--wandb", "disabled")
    assert result.returncode == 1
    assert "other/summary.json holds no vae-collapse config (another tool's file, or damaged)" in one_error_line(result)


def test_online_wandb_without_credentials_is_refused_before_anything_is_written(tmp_path):
    _linear_run(tmp_path / "runs" / "0")
    result = run_report(tmp_path, "runs", "--out", "rep", "--wandb", "online",
                        env={"HOME": str(tmp_path), "WANDB_API_KEY": "", "NETRC": str(tmp_path / "none")})
    assert result.returncode == 1
    assert "--wandb online needs WANDB_API_KEY" in one_error_line(result)
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize("args", [("--out=",), ("--sigma2", "inf,1,2")])
def test_an_empty_out_and_an_infinite_sigma2_are_refused(tmp_path, args):
    _linear_run(tmp_path / "runs" / "0")
    result = run_report(tmp_path, "runs", *args, "--wandb", "disabled")
    assert result.returncode in (1, 2)
    line = result.stderr.strip().splitlines()[-1]
    assert ("argument --out: empty" in line) if args[0] == "--out=" else ("need three finite values > 0" in line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_an_out_folder_holding_runs_is_refused_and_left_as_it_was(tmp_path):
    run = _linear_run(tmp_path / "multirun" / "x" / "noise.sigma2=1")
    before = sorted(p.name for p in (tmp_path / "multirun").rglob("*"))
    result = run_report(tmp_path, "multirun", "--out", "multirun", "--wandb", "disabled")
    assert result.returncode == 1
    assert one_error_line(result).endswith(f"--out multirun: holds runs (multirun/x/{run.name}); the report's files "
                                           "would land among them; give a folder of its own, e.g. multirun/report")
    assert sorted(p.name for p in (tmp_path / "multirun").rglob("*")) == before
    (tmp_path / "notes.txt").write_text("mine")
    result = run_report(tmp_path, "multirun", "--out", "notes.txt", "--wandb", "disabled")
    assert one_error_line(result).endswith("--out notes.txt: is a file; give a folder")
    assert (tmp_path / "notes.txt").read_text() == "mine"
