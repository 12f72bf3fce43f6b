from __future__ import annotations

import pytest
import torch

from vae_collapse.data import SyntheticPPCADataModule
from vae_collapse.data.synthetic import make_ppca_data, make_truth

SPECTRUM = [4.0, 2.0, 0.5]
SIGMA2 = 0.3


def test_truth_structure():
    truth = make_truth(6, SPECTRUM, SIGMA2, seed=1)
    assert truth.W.dtype == torch.float64 and truth.W.shape == (6, 3)
    # Columns are orthogonal with squared norms equal to the spectrum.
    torch.testing.assert_close(
        truth.W.T @ truth.W, torch.diag(torch.tensor(SPECTRUM, dtype=torch.float64))
    )
    eigenvalues = torch.linalg.eigvalsh(truth.covariance()).flip(0)
    expected = torch.tensor([s + SIGMA2 for s in SPECTRUM] + [SIGMA2] * 3, dtype=torch.float64)
    torch.testing.assert_close(eigenvalues, expected)


def test_sample_moments_approach_the_model():
    sample = make_ppca_data(5, SPECTRUM, SIGMA2, n_train=200_000, seed=2, dtype=torch.float64)
    x, truth = sample.train, sample.truth
    assert x.dtype == torch.float64
    torch.testing.assert_close(x.mean(0), truth.mu, atol=0.02, rtol=0)
    centred = x - x.mean(0)
    covariance = centred.T @ centred / (len(x) - 1)
    torch.testing.assert_close(covariance, truth.covariance(), atol=0.05, rtol=0)


def test_deterministic_and_seed_dependent():
    a = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=50, n_test=10, n_val=5, seed=0)
    b = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=50, n_test=10, n_val=5, seed=0)
    c = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=50, n_test=10, n_val=5, seed=1)
    assert a.train.dtype == torch.float32
    for name in ("train", "val", "test"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.train, c.train)
    assert not torch.equal(a.truth.W, c.truth.W)


def test_split_sizes_do_not_disturb_each_other():
    a = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=50, n_test=10, n_val=0, seed=0)
    b = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=80, n_test=10, n_val=7, seed=0)
    assert a.val is None and b.val.shape == (7, 4)
    assert torch.equal(a.test, b.test)
    assert torch.equal(a.train, b.train[:50])
    assert torch.equal(a.truth.W, b.truth.W)


def test_float32_is_rounded_float64():
    lo = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=30, seed=5)
    hi = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=30, seed=5, dtype=torch.float64)
    assert torch.equal(lo.train, hi.train.float())


def test_zero_mean_option():
    assert torch.count_nonzero(make_truth(4, SPECTRUM, SIGMA2, mean_scale=0.0).mu) == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"spectrum": [1.0] * 5}, "spectrum has 5 entries"),
        ({"spectrum": []}, "spectrum has 0 entries"),
        ({"spectrum": [1.0, -1.0]}, "must be >= 0"),
        ({"sigma2": 0.0}, "sigma2=0.0"),
        # Non-finite values passed the sign checks and crashed in the eigendecomposition.
        ({"sigma2": float("inf")}, "sigma2=inf: must be positive and finite"),
        ({"sigma2": float("nan")}, "sigma2=nan: must be positive and finite"),
        ({"spectrum": [1.0, float("nan")]}, "must be >= 0 and finite"),
        ({"spectrum": [1.0, float("inf")]}, "must be >= 0 and finite"),
        ({"mean_scale": float("nan")}, "mean_scale=nan: must be finite"),
        ({"n_train": 0}, "dataset.n_train=0"),
        ({"n_val": -1}, "dataset.n_val=-1"),
    ],
)
def test_bad_parameters(kwargs, match):
    params = {"data_dim": 4, "spectrum": SPECTRUM, "sigma2": SIGMA2, "n_train": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        SyntheticPPCADataModule(**params)


def test_datamodule_exposes_truth_and_data():
    dm = SyntheticPPCADataModule(
        data_dim=4, spectrum=SPECTRUM, sigma2=SIGMA2, n_train=40, n_test=8, n_val=6, seed=3
    )
    sample = make_ppca_data(4, SPECTRUM, SIGMA2, n_train=40, n_test=8, n_val=6, seed=3)
    torch.testing.assert_close(dm.truth.W, sample.truth.W, rtol=0, atol=0)
    assert dm.data_dim == 4 and dm.sample_shape == (4,) and dm.num_train == 40
    assert torch.equal(dm.train_data, sample.train)
    assert torch.equal(dm.val_data, sample.val) and torch.equal(dm.test_data, sample.test)
