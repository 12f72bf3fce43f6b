"""The covariance spectrum two ways: through the n x n covariance and through the N x N Gram matrix."""

import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.moments import covariance_eigenvalues, data_moments
from vae_collapse.models.noise import FixedNoise, LearnedNoise
from vae_collapse.training.reference import ppca_reference


def _wide_data(num: int, dim: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    scales = torch.linspace(3.0, 0.1, dim, dtype=torch.float64)  # a spread spectrum, not all equal
    return torch.randn(num, dim, generator=gen, dtype=torch.float64) * scales + 0.5


@pytest.mark.parametrize("num,dim", [(40, 300), (300, 40), (50, 50)])
def test_eigenvalues_match_the_covariance(num, dim):
    x = _wide_data(num, dim)
    direct = torch.linalg.eigvalsh(data_moments(x).cov).flip(0).clamp_min(0.0)
    got = covariance_eigenvalues(x, block=64)  # several feature blocks on the Gram path
    assert got.shape == (dim,)
    assert torch.all(got[:-1] >= got[1:])
    torch.testing.assert_close(got, direct, rtol=0, atol=1e-10)
    if num < dim:  # rank N - 1 after centring: the rest are exact zeros, not round-off
        assert torch.all(got[num:] == 0)


def test_float32_input_is_promoted():
    x = _wide_data(30, 200)
    torch.testing.assert_close(covariance_eigenvalues(x.float()), covariance_eigenvalues(x.float().double()))


@pytest.mark.parametrize("noise", [FixedNoise(sigma2=0.5), LearnedNoise(init=1.0)])
def test_ppca_reference_is_the_same_on_either_path(noise):
    x = _wide_data(40, 300)
    via_gram = ppca_reference(covariance_eigenvalues(x), 8, noise)
    via_cov = ppca_reference(ppca.eigenvalues(data_moments(x)), 8, noise)
    assert via_gram["ppca/active_dims"] == via_cov["ppca/active_dims"]
    assert via_gram["ppca/log_px"] == pytest.approx(via_cov["ppca/log_px"], rel=1e-12)
    assert via_gram["ppca/sigma2"] == pytest.approx(via_cov["ppca/sigma2"], rel=1e-12)


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        covariance_eigenvalues(torch.zeros(0, 5))


def test_streaming_moments_equal_the_one_pass_covariance_far_from_the_origin():
    from vae_collapse.maths.moments import StreamingMoments, covariance_eigenvalues, data_moments

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(1000, 6, generator=g, dtype=torch.float64) * torch.linspace(2.0, 0.1, 6) + 1e4).float()
    streamed = StreamingMoments(6)
    for start in range(0, 1000, 128):
        streamed.add(x[start:start + 128])
    assert torch.allclose(streamed.covariance(), data_moments(x).cov, rtol=1e-9, atol=1e-9)
    assert torch.allclose(streamed.eigenvalues(), covariance_eigenvalues(x), rtol=1e-9, atol=1e-9)
