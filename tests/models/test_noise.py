"""Observation-noise policies: values, the learned floor, and bad settings."""

from __future__ import annotations

import pytest
import torch

from vae_collapse.models import FixedNoise, LearnedNoise


def test_fixed_noise_is_a_constant_buffer():
    noise = FixedNoise(0.3)
    assert float(noise.sigma2(0)) == pytest.approx(0.3)
    assert float(noise.sigma2(10_000)) == pytest.approx(0.3)
    assert list(noise.parameters()) == []


def test_learned_noise_starts_at_init_and_is_trainable():
    noise = LearnedNoise(init=2.0, min_sigma2=0.01)
    assert float(noise.sigma2().detach()) == pytest.approx(2.0)
    assert len(list(noise.parameters())) == 1


def test_learned_noise_cannot_run_below_its_floor():
    noise = LearnedNoise(init=1.0, min_sigma2=0.05)
    opt = torch.optim.Adam(noise.parameters(), lr=0.1)
    for _ in range(300):  # push sigma^2 down as hard as possible
        opt.zero_grad()
        noise.sigma2().backward()
        opt.step()
    value = float(noise.sigma2().detach())
    assert 0.05 <= value < 0.1
    with torch.no_grad():
        noise.log_excess.fill_(-1e4)  # any parameter value at all
    assert float(noise.sigma2()) == pytest.approx(0.05, rel=1e-6)


@pytest.mark.parametrize("kwargs", [{"init": 0.0}, {"init": -1.0}, {"init": 0.01, "min_sigma2": 0.1}, {"min_sigma2": -1.0}])
def test_learned_noise_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        LearnedNoise(**kwargs)


@pytest.mark.parametrize("value", [0.0, -0.5])
def test_fixed_noise_rejects_non_positive(value):
    with pytest.raises(ValueError, match="sigma2"):
        FixedNoise(value)
