"""The pPCA reference of a run whose latent size pPCA cannot take as it is."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from vae_collapse.models.noise import LearnedNoise
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
