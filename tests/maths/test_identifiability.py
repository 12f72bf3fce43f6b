"""The identifiability measurement on decoders whose answer is known, in float64."""

from __future__ import annotations

import math

import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.identifiability import identifiability
from vae_collapse.maths.moments import data_moments


def _spectrum(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2000, n, generator=g, dtype=torch.float64) * torch.linspace(3.0, 0.5, n, dtype=torch.float64)
    return ppca.spectrum(data_moments(x))


def test_the_ppca_optimum_is_identified_and_a_rotation_of_it_is_not():
    spec = _spectrum()
    W = ppca.ppca_ml(spec, 3, sigma2=0.5).W  # columns on the top eigenvectors, scaled
    found = identifiability(W, spec.eigvecs)
    assert (found.used_columns, found.aligned_columns) == (3, 3)
    assert found.min_alignment == pytest.approx(1.0, abs=1e-12)
    assert found.gram_off_diagonal < 1e-12
    angle = 0.6
    R = torch.eye(3, dtype=torch.float64)
    R[:2, :2] = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    rotated = identifiability(W @ R, spec.eigvecs)  # the same likelihood, not the ELBO's maximum
    assert rotated.aligned_columns == 1 and rotated.min_alignment < 0.99
    assert rotated.gram_off_diagonal > 0.1


def test_collapsed_columns_are_left_out_and_signs_and_order_do_not_matter():
    spec = _spectrum()
    W = torch.zeros(6, 4, dtype=torch.float64)
    W[:, 3] = -2.0 * spec.eigvecs[:, 0]  # first principal direction, negative, in the last column
    W[:, 1] = 0.5 * spec.eigvecs[:, 1]
    found = identifiability(W, spec.eigvecs)
    assert (found.used_columns, found.aligned_columns) == (2, 2)
    assert found.min_alignment == pytest.approx(1.0, abs=1e-12)
    # On the third direction instead of the second: used, but not on the top-2 directions.
    W[:, 1] = 0.5 * spec.eigvecs[:, 2]
    assert identifiability(W, spec.eigvecs).aligned_columns == 1


def test_a_decoder_with_every_column_collapsed_has_nothing_to_align():
    spec = _spectrum()
    found = identifiability(torch.zeros(6, 3, dtype=torch.float64), spec.eigvecs)
    assert (found.used_columns, found.aligned_columns, found.min_alignment) == (0, 0, 1.0)


def test_two_columns_on_one_direction_count_once_and_a_diverged_decoder_has_no_alignment():
    spec = _spectrum()
    W = torch.stack([spec.eigvecs[:, 0], 0.5 * spec.eigvecs[:, 0]], dim=1)
    found = identifiability(W, spec.eigvecs)
    assert (found.used_columns, found.aligned_columns) == (2, 1)
    assert found.gram_off_diagonal == pytest.approx(0.5)
    W[0, 0] = float("nan")
    broken = identifiability(W, spec.eigvecs)
    assert broken.aligned_columns == 0 and math.isnan(broken.min_alignment)
