"""Trainer settings Lightning takes but a run cannot use: refused in one line naming the key."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from vae_collapse.config import ConfigError
from vae_collapse.config.instantiate import one_line_error
from vae_collapse.models import FixedNoise, LinearVAE
from vae_collapse.models.deep_vae import MLPVAE
from vae_collapse.training.trainer_settings import check_trainer_settings

ADAM = "torch.optim.Adam"


def _linear():
    return LinearVAE(6, 2, FixedNoise(1.0))


def _deep():
    return MLPVAE(6, (6,), FixedNoise(1.0), latent_dim=2, hidden=[4])


@pytest.mark.parametrize("key, value", [
    ("log_every_n_steps", 0), ("log_every_n_steps", -1), ("num_sanity_val_steps", -5),
    ("check_val_every_n_epoch", 0), ("accumulate_grad_batches", 0), ("accumulate_grad_batches", 2),
    ("gradient_clip_val", -1.0),
])
def test_out_of_range_values_are_named(key, value):
    with pytest.raises(ConfigError, match=rf"^trainer\.{key}={value}: must be "):
        check_trainer_settings(OmegaConf.create({key: value}), _deep(), ADAM)


def test_values_lightning_documents_pass():
    settings = {"log_every_n_steps": 1, "num_sanity_val_steps": -1, "check_val_every_n_epoch": None,
                "accumulate_grad_batches": 1, "gradient_clip_val": 0.5, "precision": "bf16-mixed"}
    check_trainer_settings(OmegaConf.create(settings), _linear(), ADAM)
    defaults = {"log_every_n_steps": None, "num_sanity_val_steps": None, "gradient_clip_val": None}
    check_trainer_settings(OmegaConf.create(defaults), _linear(), "vae_collapse.training.em_optimizer.VariationalEM",
                           gradient_steps=False)


def test_a_closed_form_optimiser_has_no_gradients_to_clip():
    with pytest.raises(ConfigError, match=r"^trainer\.gradient_clip_val=0\.5: the closed-form optimiser"):
        check_trainer_settings(OmegaConf.create({"gradient_clip_val": 0.5}), _linear(), None, gradient_steps=False)


def test_half_precision_weights_are_refused_where_they_cannot_work():
    with pytest.raises(ConfigError, match="Adam's eps"):
        check_trainer_settings(OmegaConf.create({"precision": "16-true"}), _deep(), ADAM)
    with pytest.raises(ConfigError, match="Cholesky"):
        check_trainer_settings(OmegaConf.create({"precision": "bf16-true"}), _linear(), ADAM)
    check_trainer_settings(OmegaConf.create({"precision": "bf16-true"}), _deep(), ADAM)  # trains and measures
    check_trainer_settings(OmegaConf.create({"precision": "64-true"}), _linear(), ADAM)


def test_a_message_that_names_a_value_inside_a_word_names_its_key():
    node = OmegaConf.create({"accelerator": "cuda", "devices": 1, "precision": "32-true"})
    cause = ValueError("`CUDAAccelerator` can not run on your system since the accelerator is not available.")
    assert str(one_line_error(cause, node, "trainer")).startswith("trainer.accelerator=cuda: `CUDAAccelerator`")
