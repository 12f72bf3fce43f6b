"""Which config changes make another run, for resume/skip and for the report's families alike."""

from __future__ import annotations

from vae_collapse.config.keys import PRESENTATION_ONLY, without_keys
from vae_collapse.report.aggregate import setting
from vae_collapse.training.resume import first_difference, identity

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
