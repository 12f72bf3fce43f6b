"""The pPCA reference of a run whose latent size pPCA cannot take as it is."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from vae_collapse.models.noise import FixedNoise, LearnedNoise
from vae_collapse.training.reference import run_reference


def test_a_latent_size_above_the_data_dimension_is_fitted_as_the_largest_pca_can_take(capsys):
    noise = LearnedNoise()
    full_rank = torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float64)
    reference = run_reference(full_rank, SimpleNamespace(latent_dim=10, fit="gradient"), noise, 100)
    assert reference["ppca/active_dims"] == 3  # k = 3 = d - 1, sigma2_ML = the discarded eigenvalue 1.0
    assert abs(reference["ppca/sigma2"] - 1.0) < 1e-12
    # Data spanning fewer dimensions than that: no optimum, and the warning names the k pPCA was given.
    low_rank = torch.tensor([4.0, 3.0, 0.0, 0.0], dtype=torch.float64)
    assert run_reference(low_rank, SimpleNamespace(latent_dim=10, fit="gradient"), noise, 100) == {}
    err = capsys.readouterr().err
    assert "(pPCA with k=3, the most it can fit)" in err and "latent size k=3" in err


def test_one_dimensional_data_run_without_the_reference(capsys):
    # pPCA's range k < n is empty there; the run crashed in ppca.optimum with k=0.
    one = torch.tensor([2.0], dtype=torch.float64)
    assert run_reference(one, SimpleNamespace(latent_dim=1, fit="gradient"), LearnedNoise(), 100) == {}
    assert "the data have one dimension" in capsys.readouterr().err


def test_a_fixed_sigma2_reference_uses_every_direction():
    # With sigma^2 fixed nothing is estimated from discarded eigenvalues, so pPCA may take k = n;
    # capped at n - 1 the reference came out below a closed-form model of k = n.
    spectrum = torch.tensor([4.0, 3.0, 2.0, 0.8], dtype=torch.float64)
    model = SimpleNamespace(latent_dim=4, fit="closed_form")
    reference = run_reference(spectrum, model, FixedNoise(0.5), 100)
    assert reference["ppca/active_dims"] == 4
    full = -0.5 * float((math.log(2 * math.pi) + torch.log(spectrum) + 1.0).sum())  # C = the covariance itself
    assert abs(reference["ppca/log_px"] - full) < 1e-12
    # Above n it is n, and one-dimensional data keep their reference.
    assert run_reference(spectrum, SimpleNamespace(latent_dim=9, fit="gradient"), FixedNoise(0.5), 100) == reference
    one = run_reference(torch.tensor([2.0], dtype=torch.float64), SimpleNamespace(latent_dim=1), FixedNoise(0.5), 100)
    assert one["ppca/active_dims"] == 1 and abs(one["ppca/sigma2"] - 0.5) < 1e-15


def test_only_a_full_batch_linear_vae_gets_the_full_covariance(monkeypatch):
    # A mini-batch linear VAE trains on its batches: an n x n float64 covariance of wide data
    # (CelebA: 1.2 GB) would be built and thrown away. The ppca/* line is the same either way.
    from vae_collapse.maths.moments import data_moments
    from vae_collapse.models import LinearVAE
    from vae_collapse.training import run as run_module

    built = []
    monkeypatch.setattr(run_module, "data_moments", lambda x: built.append(x) or data_moments(x))
    monkeypatch.setattr(run_module, "wants_eigenvectors", lambda model, dim: False)  # as for data over 4,096 pixels
    x = torch.randn(60, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * torch.arange(1.0, 7.0)
    found = {}
    for full_batch in (False, True):
        module = SimpleNamespace(model=LinearVAE(6, 2, FixedNoise(1.0)), precomputed_moments=None)
        datamodule = SimpleNamespace(train_data=x, is_full_batch=full_batch)
        moments, _, eigvals, reference = run_module._prepare_reference(module, datamodule, FixedNoise(1.0), 10, False)
        assert (moments is not None) == full_batch and len(built) == int(full_batch)
        found[full_batch] = (eigvals, reference)
    assert torch.allclose(found[False][0], found[True][0], rtol=1e-10)
    assert found[False][1] == pytest.approx(found[True][1], rel=1e-10)
