"""A mistyped override key gets one line that names the keys the node has, and the closest one.

Hydra's own advice ("To append to your config use +eval.epz=1") only leads to a second error
(unknown key for EvalSettings), and in a sweep it drops every value but the first.
"""

from __future__ import annotations

import pytest

PREFIX = "vae-collapse: error: "
EVAL_KEYS = ("eps, delta, eps_low, eps_high, eps_num, iwae_samples, iwae_examples, artifacts, "
             "track_every_n_steps, track_examples, residual_examples")
TOP_KEYS = "name, seed, resume, checkpoint, eval, dataset, model, noise, optimizer, trainer, logger, paths"


def _error_line(result) -> str:
    """The one line the script wrote to stderr, with its exit status checked."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(PREFIX)
    return lines[0].removeprefix(PREFIX)


@pytest.mark.parametrize("args, expected", [
    (("eval.epz=1",),
     f"cannot override eval.epz: eval has no key epz (its keys: {EVAL_KEYS}); did you mean eval.eps=1?"),
    (("checkpoint.every=1",),
     "cannot override checkpoint.every: checkpoint has no key every (its keys: every_n_steps, enabled); "
     "did you mean checkpoint.every_n_steps=1?"),
    (("checkpoint.colour=red",),  # nothing close: the keys, and no advice to append (it would fail next)
     "cannot override checkpoint.colour: checkpoint has no key colour (its keys: every_n_steps, enabled)"),
    (("eval.foo.bar=1",),
     f"cannot override eval.foo.bar: eval has no key foo (its keys: {EVAL_KEYS})"),
    (("eval.iwae_sample.deeper=1",),
     f"cannot override eval.iwae_sample.deeper: eval has no key iwae_sample (its keys: {EVAL_KEYS}); "
     "did you mean eval.iwae_samples.deeper=1?"),
    (("eval.eps.deeper=1",),
     "cannot override eval.eps.deeper: eval.eps is a value (0.01), not a node with keys"),
    (("model.encoder.foo=1",),
     "cannot override model.encoder.foo: model.encoder is a value (linear), not a node with keys"),
    (("evall.eps=1",),
     f"cannot override evall.eps: the config has no top-level key evall (its keys: {TOP_KEYS}); "
     "did you mean eval.eps=1?"),
    (("seedz=1",),
     f"cannot override seedz: the config has no top-level key seedz (its keys: {TOP_KEYS}); did you mean seed=1?"),
])
def test_a_mistyped_key_of_a_node_that_is_no_group_names_its_keys(run_cli, args, expected):
    assert _error_line(run_cli("dataset=synthetic_ppca", "logger=csv", *args)) == expected


def test_a_mistyped_key_when_resuming_names_its_keys(run_cli, tmp_path):
    (tmp_path / "old-run").mkdir()
    line = _error_line(run_cli(f"resume={tmp_path / 'old-run'}", "checkpoint.every=1"))
    assert line == ("cannot override checkpoint.every: checkpoint has no key every (its keys: every_n_steps, enabled); "
                    "did you mean checkpoint.every_n_steps=1?")
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("args, expected", [
    # the key of the selected option that is nearly the one typed, with all the swept values
    (("noise=fixed", "noise.sigma=1,2"),
     "cannot override noise.sigma: noise=fixed has no key sigma (its keys: sigma2); did you mean noise.sigma2=1,2?"),
    (("noise.sigma=1,2",),
     "cannot override noise.sigma: noise=learned has no key sigma (its keys: init, min_sigma2, lr_scale); "
     "did you mean noise.sigma2=1,2? (a key of noise=fixed, select it first)"),
    # nothing close: appending it is the suggestion, with every swept value, not the first alone
    (("noise.colour=red,blue",),
     "cannot override noise.colour: noise=learned has no key colour (its keys: init, min_sigma2, lr_scale); "
     "to add a new key write +noise.colour=red,blue"),
    (("eval.epz=1,2",),
     f"cannot override eval.epz: eval has no key epz (its keys: {EVAL_KEYS}); did you mean eval.eps=1,2?"),
    (("eval.epz=range(1,3)",),
     f"cannot override eval.epz: eval has no key epz (its keys: {EVAL_KEYS}); did you mean eval.eps=range(1,3)?"),
])
def test_a_mistyped_swept_key_keeps_the_users_sweep_values(run_cli, tmp_path, args, expected):
    line = _error_line(run_cli("-m", "dataset=synthetic_ppca", "logger=csv", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                               *args))
    assert line == expected


def test_a_swept_group_choice_is_read_as_the_first_job(run_cli, tmp_path):
    line = _error_line(run_cli("-m", "dataset=synthetic_ppca", "logger=csv", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                               "noise=fixed,learned", "noise.sigma=0.5,1"))
    assert line == ("cannot override noise.sigma: noise=fixed has no key sigma (its keys: sigma2); "
                    "did you mean noise.sigma2=0.5,1?")


def test_a_key_that_only_some_swept_options_have_names_the_jobs_without_it(run_cli, tmp_path):
    # Hydra's own advice was "use +noise.sigma2=1.0", which learned noise then refuses too.
    line = _error_line(run_cli("-m", "dataset=synthetic_ppca", "logger=csv", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                               "noise=fixed,learned", "noise.sigma2=1.0"))
    assert line == ("cannot override noise.sigma2: noise=learned has no key sigma2 (its keys: init, min_sigma2, "
                    "lr_scale); sigma2 is a key of noise=fixed (select it first) (in the sweep's jobs with "
                    "noise=learned; a key that only some options have needs a sweep per option)")


def test_a_key_that_every_swept_option_has_but_the_default_lacks_is_set_with_plus_plus(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    line = _error_line(run_cli("-m", "dataset=synthetic_ppca", "logger=csv", f"hydra.sweep.dir={sweep}",
                               "noise=anneal,kl_anneal", "noise.start=0.5"))
    assert line.startswith("cannot override noise.start: each noise option the sweep selects has the key"), line
    assert "write ++noise.start=0.5" in line
    # The advice works (nothing is trained here: the sweep is refused for its other bad value).
    followed = run_cli("-m", "dataset=synthetic_ppca", "logger=csv", f"hydra.sweep.dir={sweep}",
                       "noise=anneal,kl_anneal", "++noise.start=0.5", "seed=-1")
    assert "2 of the sweep's 2 jobs would be refused" in followed.stderr and "seed=-1" in followed.stderr, followed.stderr


def test_an_interval_in_a_grid_sweep_says_what_takes_one(run_cli, tmp_path):
    line = _error_line(run_cli("-m", "dataset=synthetic_ppca", "logger=csv", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                               "noise.init=interval(0.1,1)"))
    assert line.startswith("BasicSweeper does not support sweep type : INTERVAL_SWEEP (interval() is for a sweeper "
                           "that samples, e.g. hparams_search=sigma_optuna"), line


def test_appending_a_key_that_only_some_swept_options_have_says_which(run_cli, tmp_path):
    # Hydra offered ++noise.sigma2, which learned noise then refuses.
    line = _error_line(run_cli("-m", "dataset=synthetic_ppca", "logger=csv", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                               "noise=fixed,learned", "+noise.sigma2=1.0"))
    assert line == ("cannot add noise.sigma2: noise=fixed has it already and noise=learned takes no such key; "
                    "a key that only some options have needs a sweep per option")


def test_a_key_of_the_resumed_runs_own_group_is_refused_as_a_resumed_run_refuses_it(run_cli, tmp_path):
    """resume= with noise.sigma2: Hydra checks the key against the default noise=learned, but the run
    is noise=fixed; the line must describe the run being resumed, not the default config."""
    quick = ("dataset=synthetic_ppca", "model.latent_dim=3", "trainer.max_steps=3", "logger=csv",
             "trainer.enable_progress_bar=false")
    run = tmp_path / "fixed-run"
    assert run_cli(*quick, "noise=fixed", "noise.sigma2=1.0", f"hydra.run.dir={run}").returncode == 0
    line = _error_line(run_cli(f"resume={run}", "noise.sigma2=2.0"))
    assert line.startswith(f"noise.sigma2=2.0: resume={run} continues a run with noise.sigma2=1.0; a resumed run "
                           "can only change trainer.*")
    assert "noise=learned" not in line


def test_beside_a_resume_path_without_a_checkpoint_the_missing_checkpoint_is_the_line(run_cli, tmp_path):
    line = _error_line(run_cli(f"resume={tmp_path / 'nowhere'}", "noise.sigma2=2.0"))
    assert line.startswith(f"resume={tmp_path / 'nowhere'}: no checkpoint at {tmp_path / 'nowhere'}")
