"""Which config changes make another run, for resume/skip and for the report's families alike."""

from __future__ import annotations

import pytest

from vae_collapse.config.keys import PRESENTATION_ONLY, without_keys
from vae_collapse.report.aggregate import setting
from vae_collapse.training.resume import first_difference, identity, telling_differences

RUN = {"seed": 0, "paths": {"output_dir": "/a"}, "noise": {"sigma2": 1.0},
       "trainer": {"max_steps": 100, "log_every_n_steps": 10, "enable_progress_bar": True}, "checkpoint": {"every_n_steps": 5}}


def _changed(**trainer):
    return {**RUN, "trainer": {**RUN["trainer"], **trainer}, "paths": {"output_dir": "/b"}}


def test_logging_and_progress_settings_make_neither_another_run_nor_another_setting():
    quieter = _changed(log_every_n_steps=50, enable_progress_bar=False)
    assert first_difference(identity(RUN), identity(quieter)) is None
    assert setting(RUN) == setting(quieter)


def test_a_longer_run_is_another_run_and_another_setting():
    longer = _changed(max_steps=200)
    assert first_difference(identity(RUN), identity(longer)) == ("trainer.max_steps", 100, 200)
    assert setting(RUN) != setting(longer)


def test_without_keys_copies_and_skips_missing_parents():
    stripped = without_keys(RUN, (*PRESENTATION_ONLY, "model.hidden"))
    assert stripped["trainer"] == {"max_steps": 100} and "checkpoint" not in stripped
    assert RUN["trainer"]["log_every_n_steps"] == 10  # the original is untouched


def test_the_difference_named_is_the_one_a_command_line_set():
    old = {"seed": 0, "dataset": {"seed": 0, "batch_size": 128}, "noise": {"sigma2": 2.0}}
    new = {"seed": 2, "dataset": {"seed": 2, "batch_size": 128}, "noise": {"sigma2": 0.5}}
    # dataset.seed comes first in key order, but it only follows from seed.
    assert telling_differences(old, new, ["noise.sigma2=0.5", "seed=2"]) == (
        "seed=0 there, 2 here; noise.sigma2=2.0 there, 0.5 here; and 1 more")
    assert telling_differences(old, new, []) == "seed=0 there, 2 here; dataset.seed=0 there, 2 here; and 1 more"
    # A group chosen on the command line names its keys before a batch size that follows from it.
    deep = {"model": {"_target_": "MLPVAE", "hidden": [16]}, "dataset": {"batch_size": 128}}
    linear = {"model": {"_target_": "LinearVAE"}, "dataset": {"batch_size": None}}
    assert telling_differences(deep, linear, ["model=linear_vae"], most=1).startswith("model._target_=MLPVAE there")


def test_a_resumed_run_is_the_same_setting_as_its_seed_mates():
    resumed = {**_changed(), "seed": 1, "resume": "/a/checkpoints/last.ckpt"}
    assert setting({**RUN, "resume": None}) == setting(resumed)


def test_resume_of_a_sweep_folder_points_at_its_job_folders(tmp_path):
    from vae_collapse.training.checkpoint_paths import checkpoint_file, missing_checkpoint

    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "multirun.yaml").write_text("hydra: {}\n")
    line = missing_checkpoint(checkpoint_file(tmp_path / "sweep"), "resume=sweep")
    assert line == (f"resume=sweep: {tmp_path / 'sweep'} is a sweep's folder; name one of its job folders, or run the "
                    "sweep's command again to finish its unfinished jobs")
    assert "no checkpoint at" in missing_checkpoint(checkpoint_file(tmp_path / "run"), "resume=run")


@pytest.mark.parametrize("status, advice", [("diverged", ""), ("interrupted", "; run its command again to start it over")])
def test_a_run_that_ended_before_its_first_checkpoint_says_so(tmp_path, status, advice):
    import json

    from vae_collapse.training.checkpoint_paths import checkpoint_file, missing_checkpoint

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"status": status, "reason": "at step 1"}))
    expected = (f"resume=run: no checkpoint at {tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}: the run {status} "
                f"without leaving one (at step 1){advice}")
    assert missing_checkpoint(checkpoint_file(tmp_path / "run"), "resume=run") == expected
    (tmp_path / "run" / "checkpoints").mkdir()  # empty: named instead of the run folder, the same line
    assert missing_checkpoint(checkpoint_file(tmp_path / "run" / "checkpoints"), "resume=run") == expected


def test_a_resumed_run_resumed_again_in_its_own_folder_keeps_its_link_to_the_first_folder(tmp_path):
    # Its summary pointed at itself, and the report's curve lost the steps in the first folder.
    import json

    from vae_collapse.training.run import _resumed_record

    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    link = str(first / "checkpoints" / "last.ckpt")
    (second / "summary.json").write_text(json.dumps({"config": {}, "resumed_from": link, "resumed_at_step": 73}))
    own = second / "checkpoints" / "last.ckpt"
    assert _resumed_record(second, own, 200) == (link, 73)
    assert _resumed_record(tmp_path / "third", own, 200) == (str(own.resolve()), 200)  # into a new folder
    (second / "summary.json").write_text(json.dumps({"config": {}, "resumed_from": None}))
    assert _resumed_record(second, own, 200) == (str(own.resolve()), 200)  # a first part: its own checkpoint
    assert _resumed_record(second, None, None) == (None, None)
