"""Where a run will stop, from max_steps and max_epochs, and the warnings that follow from it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from vae_collapse.models import AnnealedNoise, FixedNoise, KLAnnealing, LearnedNoise
from vae_collapse.training.run import _last_step, _end_setting, _run_warnings


def _cfg(model=None, **trainer):
    return OmegaConf.create({"trainer": trainer, "model": model or {}})


@pytest.mark.parametrize(
    ("trainer", "expected"),
    [
        ({"max_steps": 300, "max_epochs": -1}, 300),
        ({"max_steps": 300, "max_epochs": 2}, 20),  # whichever comes first: 2 epochs of 10 batches
        ({"max_steps": -1, "max_epochs": 3}, 30),
        ({"max_steps": -1}, 10_000),  # Lightning's default of 1,000 epochs
        ({"max_steps": -1, "max_epochs": -1}, None),  # no end
        ({"max_steps": 0, "max_epochs": -1}, 0),  # no training: the initial model is measured
        ({"max_steps": -1, "max_epochs": 0}, 0),
    ],
)
def test_the_last_step_is_the_first_limit_reached(trainer, expected):
    assert _last_step(_cfg(**trainer), batches_per_epoch=10) == expected


@pytest.mark.parametrize(("limit", "expected"), [(0.5, 15), (1.0, 30), (4, 12), (20, 30), (1, 3), (2.0, 6), (0, 0)])
def test_an_epoch_is_as_long_as_trainer_limit_train_batches_makes_it(limit, expected):
    # 3 epochs of 10 batches, cut by Lightning to int(10 * fraction) or min(10, count) batches each.
    assert _last_step(_cfg(max_steps=-1, max_epochs=3, limit_train_batches=limit), batches_per_epoch=10) == expected


def test_a_fraction_of_batches_that_rounds_to_none_is_refused_in_one_line():
    from vae_collapse.config import ConfigError

    with pytest.raises(ConfigError, match=r"^trainer.limit_train_batches=0.05: leaves no training batch per epoch "
                                          r"\(int\(10 x 0.05\) = 0\)"):
        _last_step(_cfg(max_steps=-1, max_epochs=3, limit_train_batches=0.05), batches_per_epoch=10)


def test_warnings_for_cut_off_schedules_untracked_runs_and_endless_ones():
    evaluation = SimpleNamespace(track_every_n_steps=50)
    cut = _run_warnings(_cfg(), KLAnnealing(FixedNoise(1.0), warmup_steps=100), 20, evaluation)
    assert len(cut) == 2 and "warmup_steps=100" in cut[0] and "track_every_n_steps=50" in cut[1]
    assert _run_warnings(_cfg(), AnnealedNoise(steps=10, then="fixed"), 200, evaluation) == []
    assert "both unlimited" in _run_warnings(_cfg(), FixedNoise(1.0), None, evaluation)[0]


@pytest.mark.parametrize(("encoder", "warned"), [("linear", True), ("mlp", False)])
def test_hidden_widths_given_to_a_linear_encoder_are_named_as_unused(encoder, warned):
    cfg = _cfg({"encoder": encoder, "encoder_hidden": [64]}, max_steps=10)
    found = _run_warnings(cfg, FixedNoise(1.0), 10, SimpleNamespace(track_every_n_steps=0))
    assert found == (["model.encoder_hidden=[64] is not used: model.encoder=linear has no hidden layers "
                      "(model.encoder=mlp or deep_linear has)"] if warned else [])


def test_a_run_longer_than_its_learning_rate_schedule_is_warned_about():
    evaluation = SimpleNamespace(track_every_n_steps=0)
    cfg = OmegaConf.create({"trainer": {"max_steps": 100}, "lr_scheduler": {"total_steps": 50, "decay_steps": 10}})
    found = _run_warnings(cfg, FixedNoise(1.0), 100, evaluation)
    assert len(found) == 1 and found[0].startswith("the learning-rate schedule is built for 50 steps and the run ends "
                                                   "at step 100")
    assert _run_warnings(cfg, FixedNoise(1.0), 50, evaluation) == []


def test_a_run_without_training_steps_says_so_instead_of_calling_itself_endless():
    found = _run_warnings(_cfg(max_steps=0), KLAnnealing(FixedNoise(1.0), warmup_steps=100), 0,
                          SimpleNamespace(track_every_n_steps=10))
    assert found == ["the run takes no training step (trainer.max_steps=0 or max_epochs=0): its results are those "
                     "of the initial model"]


@pytest.mark.parametrize(("latent_dim", "noise", "warned"), [
    (19, LearnedNoise(), None),
    (20, LearnedNoise(), "is not below the data's 20 dimensions: the linear prediction ppca/* is for k=19, the most "
                         "pPCA can fit with a learned sigma2"),
    (64, LearnedNoise(), "is not below the data's 20 dimensions: the linear prediction ppca/* is for k=19, the most "
                         "pPCA can fit with a learned sigma2"),
    (20, FixedNoise(1.0), None),  # a fixed sigma^2 lets pPCA use every direction
    (64, FixedNoise(1.0), "is above the data's 20 dimensions: the linear prediction ppca/* is for k=20, the most "
                          "pPCA can fit"),
])
def test_a_latent_size_pca_cannot_take_is_warned_about(latent_dim, noise, warned):
    cfg = _cfg({"latent_dim": latent_dim}, max_steps=10)
    found = _run_warnings(cfg, noise, 10, SimpleNamespace(track_every_n_steps=0), data_dim=20)
    assert found == ([f"model.latent_dim={latent_dim} {warned}"] if warned else [])


@pytest.mark.parametrize(("trainer", "last_step", "named"), [
    ({"max_steps": 10, "max_epochs": None}, 10, "trainer.max_steps=10"),
    ({"max_steps": -1, "max_epochs": 2}, 40, "trainer.max_epochs=2"),
    ({"max_steps": 500, "max_epochs": 2}, 40, "trainer.max_epochs=2"),  # the epochs end it first
    ({"max_steps": 30, "max_epochs": 2}, 30, "trainer.max_steps=30"),
    ({"max_steps": -1, "max_epochs": None}, 20000, "trainer.max_epochs=null (Lightning's default of 1000 epochs)"),
])
def test_the_setting_that_ends_a_run_is_the_one_named(trainer, last_step, named):
    assert _end_setting(OmegaConf.create({"trainer": trainer}), last_step) == named
