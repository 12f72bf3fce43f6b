"""noise=optimal in the final measurements: scored at the whole training split's sigma^2 maximiser."""

from __future__ import annotations

import pytest
import torch

from vae_collapse.data import SyntheticPPCADataModule
from vae_collapse.models import FixedNoise, KLAnnealing, LinearVAE, OptimalNoise
from vae_collapse.training.evaluate import evaluate
from vae_collapse.training.measurements import EvalSettings, final_measurements


def _data(eval_batch_size: int) -> SyntheticPPCADataModule:
    data = SyntheticPPCADataModule(data_dim=6, spectrum=[4.0, 2.0, 1.0], sigma2=0.3, n_train=500, n_test=0,
                                   seed=0, eval_batch_size=eval_batch_size)
    data.prepare_data()
    data.setup("fit")
    return data


@pytest.mark.parametrize("noise", [OptimalNoise(init=5.0), KLAnnealing(OptimalNoise(init=5.0), warmup_steps=10)],
                         ids=["optimal", "kl_anneal-over-optimal"])
def test_the_final_train_elbo_is_at_its_maximum_in_sigma2(tmp_path, noise):
    torch.manual_seed(0)
    # 500 examples in batches of 64: the last is 52 long, and a fit to any one batch misses the split's optimum.
    data = _data(eval_batch_size=64)
    model = LinearVAE(data_dim=6, latent_dim=2, sample_shape=(6,), noise=noise).double()
    settings = EvalSettings(iwae_samples=0, artifacts=False, residual_examples=0)
    metrics, _ = final_measurements(model, data, settings, tmp_path, [], step=20)
    fitted = metrics["train/sigma2"]
    assert fitted != pytest.approx(5.0, rel=0.01)  # the value training left is not the one scored
    for factor in (0.97, 1.03):
        model.noise.fit_to(fitted * factor * 6, 6)
        moved = evaluate(model, data.eval_dataloader("train"), "train", step=20).metrics
        assert moved["train/elbo"] < metrics["train/elbo"] - 1e-6
    # The batch size of the pass does not change the answer.
    model.noise.fit_to(5.0 * 6, 6)
    again, _ = final_measurements(model, _data(eval_batch_size=500), settings, tmp_path, [], step=20)
    assert again["train/sigma2"] == pytest.approx(fitted, rel=1e-12)


def test_fit_to_keeps_the_floor_and_only_optimal_fits():
    noise = OptimalNoise(min_sigma2=0.01)
    noise.fit_to(0.6, 6)
    assert float(noise.sigma2()) == pytest.approx(0.1)
    noise.fit_to(0.0, 6)
    assert float(noise.sigma2()) == pytest.approx(0.01)
    assert not FixedNoise(1.0).fitted_to_reconstructions and not KLAnnealing(FixedNoise(1.0)).fitted_to_reconstructions
    with pytest.raises(TypeError, match="FixedNoise"):
        FixedNoise(1.0).fit_to(1.0, 6)
