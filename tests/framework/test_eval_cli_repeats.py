"""``vae-collapse-eval`` run again: it says which measurement it replaces, and refuses a key given twice."""

from __future__ import annotations

import json

import pytest

from vae_collapse.eval_cli import main


def _train(root, run_dir, *args: str):
    """A 5-step run on synthetic data."""
    import os
    import subprocess

    from tests.conftest import SCRIPT

    env = {**os.environ, "WANDB_MODE": "disabled", "VAE_COLLAPSE_DATA": str(root / "data")}
    done = subprocess.run([str(SCRIPT), "dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=5",
                           "logger=csv", "trainer.enable_progress_bar=false", "eval.iwae_samples=0",
                           f"hydra.run.dir={run_dir}", *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """Trained once for every test here."""
    root = tmp_path_factory.mktemp("eval-repeats")
    return _train(root, root / "run")


def _eval(capsys, *args: str) -> tuple[int, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_a_second_eval_says_which_measurement_it_replaces(trained_run, tmp_path, capsys):
    out = tmp_path / "e"
    code, err = _eval(capsys, str(trained_run), "eval.eps=0.1", "--out", str(out))
    assert code == 0 and "replacing" not in err, err
    code, err = _eval(capsys, str(trained_run), "eval.eps=0.2", "--out", str(out))
    assert code == 0, err
    said = [line for line in err.splitlines() if "replacing" in line]
    assert said == [f"vae-collapse-eval: replacing the earlier measurement in {out} (eval.eps=0.1)"]
    assert json.loads((out / "eval.json").read_text())["overrides"] == ["eval.eps=0.2"]  # and it went on
    code, err = _eval(capsys, str(trained_run), "--out", str(out))
    assert code == 0 and f"replacing the earlier measurement in {out} (eval.eps=0.2)" in err, err


def test_the_default_folder_too(trained_run, capsys):
    code, err = _eval(capsys, str(trained_run))
    assert code == 0, err
    code, err = _eval(capsys, str(trained_run), "eval.eps=0.05")
    assert code == 0, err
    assert (f"vae-collapse-eval: replacing the earlier measurement in {trained_run / 'eval'} "
            "(the run's own eval settings)") in err.splitlines()


def test_a_key_given_twice_is_refused_and_nothing_is_written(trained_run, tmp_path, capsys):
    out = tmp_path / "twice"
    code, err = _eval(capsys, str(trained_run), "eval.eps=0.1", "eval.eps=0.2", "--out", str(out))
    assert code == 1
    assert err.splitlines() == ["vae-collapse-eval: error: eval.eps is given twice (eval.eps=0.1, eval.eps=0.2); "
                                "give it once"]
    assert not out.exists()


def test_a_path_without_a_checkpoint_is_refused_before_torch_is_loaded(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom vae_collapse.eval_cli import main\ntry:\n    main([sys.argv[1]])\n"
            "except SystemExit as exc:\n    print(exc.code, 'torch' in sys.modules, 'lightning' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "never-ran")], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split() == ["1", "False", "False"], done.stdout + done.stderr
    assert done.stderr.strip() == (f"vae-collapse-eval: error: {tmp_path / 'never-ran'}: no checkpoint at "
                                   f"{tmp_path / 'never-ran' / 'checkpoints' / 'last.ckpt'} (a run folder with "
                                   "checkpoints/last.ckpt, or a .ckpt file)")


def test_a_data_folder_key_the_runs_data_set_lacks_is_named_as_such(trained_run, tmp_path, capsys):
    code, err = _eval(capsys, str(trained_run), "dataset.root=/x", "--out", str(tmp_path / "r"))
    assert code == 1
    assert err.splitlines() == ["vae-collapse-eval: error: dataset.root=/x: this run's data set "
                                "(SyntheticPPCADataModule) has no dataset.root; it reads no data folder"]
    assert not (tmp_path / "r").exists()


def test_the_alignment_of_a_linear_decoder_is_measured_again_as_the_run_measured_it(trained_run, tmp_path, capsys):
    code, err = _eval(capsys, str(trained_run), "--out", str(tmp_path / "again"))
    assert code == 0, err
    again = json.loads((tmp_path / "again" / "eval.json").read_text())["metrics"]
    run = json.loads((trained_run / "summary.json").read_text())["metrics"]
    for name in ("train/aligned_columns", "train/column_alignment", "train/gram_off_diagonal"):
        assert again[name] == pytest.approx(run[name], rel=1e-6, abs=1e-9), name


def test_an_out_folder_of_other_files_or_inside_a_run_is_refused_and_left_as_it_was(trained_run, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "collapse_curve.csv").write_text("the user's own")
    for out, says in ((mine, "holds files that are not a measurement's (collapse_curve.csv)"),
                      (trained_run / "csv", "holds files that are not a measurement's (hparams.yaml, metrics.csv)"),
                      (trained_run / "checkpoints", "holds files that are not a measurement's (last.ckpt")):
        before = sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir())
        code, err = _eval(capsys, str(trained_run), "--out", str(out))
        assert code == 1 and len(err.splitlines()) == 1 and says in err, err
        assert sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir()) == before
    assert (mine / "collapse_curve.csv").read_text() == "the user's own"


def test_a_measurement_into_another_runs_folder_is_refused(trained_run, tmp_path, capsys):
    other = _train(tmp_path, tmp_path / "other", "seed=1")
    code, err = _eval(capsys, str(other), "--out", str(trained_run / "eval"))
    assert code == 1 and f"is inside the folder of another run ({trained_run.resolve()})" in err, err
    code, err = _eval(capsys, str(other), "--out", str(tmp_path / "e"))
    assert code == 0, err
    code, err = _eval(capsys, str(trained_run), "--out", str(tmp_path / "e"))
    assert code == 1 and "holds the measurement of another run's checkpoint" in err, err


def test_measuring_again_removes_the_files_the_earlier_measurement_wrote_and_this_one_does_not(
        trained_run, tmp_path, capsys):
    out = tmp_path / "again"
    assert _eval(capsys, str(trained_run), "--out", str(out))[0] == 0
    assert (out / "kl_per_dim.png").is_file() and (out / "spectrum.png").is_file()
    (out / "notes.txt").write_text("kept")  # a file of the user's beside a measurement stays
    assert _eval(capsys, str(trained_run), "eval.artifacts=false", "--out", str(out))[0] == 0
    listed = json.loads((out / "eval.json").read_text())["files"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*listed, "eval.json", "notes.txt"])
    assert not (out / "kl_per_dim.png").exists()


@pytest.mark.parametrize("args, says", [
    ((), "give a run folder or a .ckpt file, e.g. vae-collapse-eval outputs/default/<time> eval.eps=0.1"),
    (("{run}", "eval.eps"), "eval.eps: give it a value, e.g. eval.eps=0.1"),
    (("eval.eps=0.1", "{run}"), "eval.eps=0.1: the run folder or .ckpt file comes first, then the settings, e.g. "
                                "vae-collapse-eval <run folder> eval.eps=0.1"),
    (("{tmp}/truncated.ckpt", "--out", "{tmp}/o"),
     "{tmp}/truncated.ckpt is not a readable checkpoint (PytorchStreamReader failed reading zip archive: failed "
     "finding central directory)"),
    (("{tmp}/notes.ckpt",), "{tmp}/notes.ckpt is not a readable checkpoint (not a file torch.save wrote, or cut short)"),
    (("{run}", "--out", "{tmp}/notes.ckpt"), "--out {tmp}/notes.ckpt is a file; give a folder"),
])
def test_arguments_out_of_place_and_unreadable_checkpoints_are_one_plain_line(trained_run, tmp_path, capsys, args, says):
    data = (trained_run / "checkpoints" / "last.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(data[:3000])  # the zip archive's directory is at its end
    (tmp_path / "notes.ckpt").write_text("hello\n")  # torch's legacy reader said only "(101)"
    fill = {"run": str(trained_run), "tmp": str(tmp_path)}
    code, err = _eval(capsys, *[a.format(**fill) for a in args])
    assert code in (1, 2) and err.splitlines() == [f"vae-collapse-eval: error: {says.format(**fill)}"], err


def test_a_moved_run_is_measured_again_into_its_own_and_its_earlier_folders(trained_run, tmp_path, capsys):
    import shutil

    assert _eval(capsys, str(trained_run), "--out", str(tmp_path / "e"))[0] == 0
    assert _eval(capsys, str(trained_run))[0] == 0
    moved = tmp_path / "moved"
    shutil.copytree(trained_run, moved)  # a run copied from a cluster: eval.json names the old path
    code, err = _eval(capsys, str(moved))
    assert code == 0 and f"replacing the earlier measurement in {moved / 'eval'}" in err, err
    code, err = _eval(capsys, str(moved), "--out", str(tmp_path / "e"))
    assert code == 0, err


def test_a_measurement_stopped_half_way_leaves_a_folder_the_next_one_takes(trained_run, tmp_path, capsys, monkeypatch):
    import vae_collapse.training.measurements as measurements

    out = tmp_path / "stopped"

    def stopped(*args, **kwargs):
        (out / "collapse_curve.csv").write_text("half")  # what it wrote before it stopped
        raise KeyboardInterrupt

    monkeypatch.setattr(measurements, "final_measurements", stopped)
    code, err = _eval(capsys, str(trained_run), "--out", str(out))
    assert code == 130 and err.splitlines()[-1] == "vae-collapse-eval: interrupted (Ctrl-C); the files written so far are kept"
    monkeypatch.undo()
    code, err = _eval(capsys, str(trained_run), "--out", str(out))
    assert code == 0 and "(one that was stopped before it ended)" in err, err
    assert json.loads((out / "eval.json").read_text())["metrics"]


def test_a_runs_checkpoints_folder_stands_for_its_last_checkpoint(trained_run):
    from vae_collapse.training.checkpoint_paths import checkpoint_file

    last = trained_run / "checkpoints" / "last.ckpt"
    assert checkpoint_file(trained_run / "checkpoints") == last == checkpoint_file(trained_run)
    assert checkpoint_file(last) == last


def test_the_result_says_which_step_it_measured_and_eval_json_names_the_checkpoint_plainly(trained_run, tmp_path,
                                                                                           capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    roundabout = f"{trained_run}/../{trained_run.name}"
    main([roundabout, "--out", "e"])
    assert "Result (evaluated at step 5); " in capsys.readouterr().out  # the run's last step: nothing more said
    assert json.loads((tmp_path / "e" / "eval.json").read_text())["checkpoint"] == str(
        trained_run.absolute() / "checkpoints" / "last.ckpt")


def test_a_checkpoint_before_the_runs_end_is_said_to_be_one(trained_run, tmp_path, capsys):
    import shutil

    early = tmp_path / "early"
    shutil.copytree(trained_run, early)
    ckpt = early / "checkpoints" / "last.ckpt"
    import torch

    state = torch.load(ckpt, weights_only=False)
    state["global_step"] = 3  # as if stopped at step 3 of 5
    torch.save(state, ckpt)
    try:
        main([str(early), "--out", str(tmp_path / "e")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "Result (evaluated at step 3, before the run's end at step 5)" in out


def test_a_closed_form_fit_is_not_said_to_be_measured_before_its_end(tmp_path, capsys):
    run = _train(tmp_path, tmp_path / "ppca", "model=ppca")  # done at step 0, with trainer.max_steps=5
    main([str(run), "--out", str(tmp_path / "e")])
    assert "Result (evaluated at step 0); " in capsys.readouterr().out
