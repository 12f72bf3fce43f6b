"""The LightningModule's steps: training moves the parameters, evaluation moves nothing."""

from __future__ import annotations

import functools

import pytest

import lightning.pytorch as pl
import torch

from vae_collapse.data import SyntheticPPCADataModule
from vae_collapse.models import FixedNoise, LearnedNoise, LinearVAE, OptimalNoise
from vae_collapse.training.evaluate import evaluate
from vae_collapse.training.lit_module import VAEModule


def _datamodule():
    return SyntheticPPCADataModule(data_dim=6, spectrum=[4.0, 1.0], sigma2=0.1, n_train=200, n_test=50, seed=0)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _fit_one_step(model):
    module = VAEModule(model, functools.partial(torch.optim.Adam, lr=1e-2))
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(module, datamodule=_datamodule())
    return trainer


def test_one_training_step_changes_every_parameter_and_learned_sigma2():
    model = LinearVAE(6, 3, LearnedNoise(1.0))
    before = _snapshot(model)
    trainer = _fit_one_step(model)
    assert trainer.global_step == 1
    after = _snapshot(model)
    for name in before:
        assert not torch.equal(before[name], after[name]), f"{name} did not move"


def test_fixed_sigma2_is_not_a_parameter_but_travels_with_the_model():
    model = LinearVAE(6, 3, FixedNoise(0.5))
    assert not list(model.noise.parameters())  # no optimiser can move it
    _fit_one_step(model)
    assert "noise._sigma2" in model.state_dict()  # saved in checkpoints
    assert model.double().noise.sigma2().dtype == torch.float64  # follows .double() / .to()
    assert float(model.noise.sigma2()) == 0.5


@pytest.mark.parametrize("noise", [LearnedNoise(1.0), OptimalNoise(init=0.7)], ids=["learned", "optimal"])
def test_evaluation_changes_nothing(noise):
    # In training mode: an evaluation pass must not refit optimal's sigma^2 (a buffer) nor leave eval mode on.
    model = LinearVAE(6, 3, noise).train()
    dm = _datamodule()
    dm.setup()
    before = _snapshot(model)
    result = evaluate(model, dm.eval_dataloader("train"), "train")
    assert set(result.metrics) >= {"train/elbo", "train/kl", "train/recon", "train/log_px", "train/elbo_gap"}
    after = _snapshot(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training
    if isinstance(noise, OptimalNoise):  # scored at its last training value, not refitted to these batches
        assert result.metrics["train/sigma2"] == pytest.approx(0.7)
    assert result.metrics["train/elbo_gap"] >= 0


def test_full_batch_linear_training_uses_the_moments_path_with_identical_values():
    torch.manual_seed(0)
    model = LinearVAE(6, 3, LearnedNoise(1.0)).double()
    dm = _datamodule()
    dm.setup()
    x = dm.train_data.double()
    module = VAEModule(model, functools.partial(torch.optim.Adam, lr=1e-2))
    trainer = pl.Trainer(max_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(module, datamodule=dm)
    assert module.train_moments is not None
    fast = module._train_step(x)
    slow = module._step(x)
    assert torch.allclose(fast.elbo, slow.elbo, rtol=1e-10)
    grads = []
    for result in (fast, slow):
        model.zero_grad()
        result.loss.backward(retain_graph=True)
        grads.append([p.grad.clone() for p in model.parameters()])
    for g_fast, g_slow in zip(*grads):
        assert torch.allclose(g_fast, g_slow, rtol=1e-8, atol=1e-10)


def _image_datamodule():
    from vae_collapse.data import InMemoryDataModule, Splits

    class RandomImages(InMemoryDataModule):
        def _load(self) -> Splits:
            g = torch.Generator().manual_seed(0)
            return Splits(train=torch.rand(64, 784, generator=g), val=None, test=torch.rand(16, 784, generator=g),
                          sample_shape=(1, 28, 28))

    return RandomImages(batch_size=16)


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_deep_models_one_step_moves_weights_and_learned_sigma2(kind):
    from vae_collapse.models import ConvVAE, MLPVAE

    noise = LearnedNoise(1.0)
    if kind == "mlp":
        model = MLPVAE(784, (1, 28, 28), noise, latent_dim=4, hidden=[32, 16])
    else:
        model = ConvVAE(784, (1, 28, 28), noise, latent_dim=4, channels=[4, 8])
    before = _snapshot(model)
    module = VAEModule(model, functools.partial(torch.optim.Adam, lr=1e-2))
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(module, datamodule=_image_datamodule())
    after = _snapshot(model)
    moved = [name for name in before if not torch.equal(before[name], after[name])]
    assert "noise.log_var_excess" in moved
    assert len(moved) == len(before), set(before) - set(moved)


def test_a_conv_model_on_images_it_cannot_halve_names_the_image_size_setting():
    from vae_collapse.models import ConvVAE

    with pytest.raises(ValueError, match=r"^channels=\[4, 8\]: 2 stride-2 layers need H and W divisible by 4, got "
                                         r"30x30 images \(.*dataset.image_size for celeba\)$"):
        ConvVAE(2700, (3, 30, 30), FixedNoise(1.0), latent_dim=4, channels=[4, 8])


def test_kl_annealing_weighs_the_loss_but_reports_the_true_elbo():
    from vae_collapse.models import KLAnnealing

    torch.manual_seed(0)
    model = LinearVAE(6, 3, KLAnnealing(FixedNoise(0.5), warmup_steps=10))
    module = VAEModule(model, functools.partial(torch.optim.Adam, lr=1e-2))
    x = torch.randn(32, 6)
    result = module._step(x)  # global_step 0: beta = 0
    assert result.beta == 0.0
    assert torch.allclose(result.loss, -result.recon)
    assert torch.allclose(result.elbo, result.recon - result.kl)


def test_a_kl_weight_beta_trains_as_the_plain_elbo_at_beta_sigma2():
    """The noise module's docstring: with sigma^2 fixed, the loss at KL weight beta has beta times the
    gradient of the plain ELBO at sigma^2' = beta sigma^2, so both lead to one optimum."""
    from vae_collapse.models import KLAnnealing

    torch.manual_seed(0)
    annealed = LinearVAE(6, 3, KLAnnealing(FixedNoise(0.8), warmup_steps=4, start=0.25)).double()
    plain = LinearVAE(6, 3, FixedNoise(0.25 * 0.8)).double()
    plain.load_state_dict(annealed.state_dict(), strict=False)  # the same weights
    x = torch.randn(32, 6, dtype=torch.float64)

    def gradient(model):
        result = VAEModule(model, functools.partial(torch.optim.Adam, lr=1e-2))._step(x)  # global_step 0
        params = [p for name, p in model.named_parameters() if not name.startswith("noise.")]
        return result, torch.cat([g.flatten() for g in torch.autograd.grad(result.loss, params)])

    weighted, g_weighted = gradient(annealed)
    unweighted, g_plain = gradient(plain)
    assert weighted.beta == 0.25 and unweighted.beta == 1.0
    assert torch.allclose(g_weighted, 0.25 * g_plain, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(g_weighted, g_plain, rtol=1e-2)


def _fit_full_batch(model, max_steps: int, log_every: int, logger=False):
    module = VAEModule(model, functools.partial(torch.optim.Adam, lr=1e-2))
    trainer = pl.Trainer(max_steps=max_steps, logger=logger, log_every_n_steps=log_every, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    dm = _datamodule()
    trainer.fit(module, datamodule=dm)
    return trainer, module, dm


def test_metrics_are_logged_on_logger_steps_and_the_last_step_only(tmp_path):
    """Logging every step costs the framework ~1 ms per value; the last step still reaches callback_metrics."""
    from lightning.pytorch.loggers import CSVLogger
    import csv

    torch.manual_seed(0)
    model = LinearVAE(6, 3, LearnedNoise(1.0)).double()
    start = _snapshot(model)
    trainer, module, dm = _fit_full_batch(model, max_steps=7, log_every=5,
                                          logger=CSVLogger(tmp_path, name="csv", version=""))
    # The ELBO that the 7th step (index 6) saw: replay 6 steps from the same start, then evaluate.
    replay = LinearVAE(6, 3, LearnedNoise(1.0)).double()
    replay.load_state_dict(start)
    _, replay_module, _ = _fit_full_batch(replay, max_steps=6, log_every=5)
    expected = replay_module._train_step(dm.train_data.double()).elbo
    assert float(trainer.callback_metrics["train/elbo"]) == pytest.approx(expected.item(), rel=1e-12)
    assert "train/lr" in trainer.callback_metrics
    with open(tmp_path / "csv" / "metrics.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("train/elbo")]
    assert [int(row["step"]) for row in rows] == [4]  # the loggers write every 5th step, as before


def test_non_finite_loss_stops_training_with_a_clear_error():
    model = LinearVAE(6, 3, FixedNoise(0.5))
    with torch.no_grad():
        model.decoder.W.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        _fit_full_batch(model, max_steps=3, log_every=50)


@pytest.mark.parametrize("lr_scale", [1.0, 10.0])
def test_noise_lr_scale_gives_sigma2_its_own_learning_rate(lr_scale):
    # Adam's first step moves every parameter by its learning rate (times the gradient's sign).
    model = LinearVAE(6, 3, LearnedNoise(1.0, lr_scale=lr_scale))
    before = _snapshot(model)
    _fit_one_step(model)
    after = _snapshot(model)
    moved = {name: float((after[name] - before[name]).abs().max()) for name in before}
    assert moved["noise.log_var_excess"] == pytest.approx(1e-2 * lr_scale, rel=1e-3)
    assert moved["decoder.W"] == pytest.approx(1e-2, rel=1e-3)
