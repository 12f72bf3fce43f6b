"""Figure 1: the plotted pPCA surface is the exact log-likelihood, with the closed-form curvature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_collapse.maths import ppca
from vae_collapse.maths.moments import DataMoments
from vae_collapse.report import figure1
from vae_collapse.report.errors import ReportError

# The synthetic_ppca data set's spectrum (conf/dataset/synthetic_ppca.yaml): W's squared
# column norms plus sigma2 = 0.1 on every direction.
SYNTHETIC = np.array([8.1, 4.1, 2.1, 1.1, 0.6] + [0.1] * 15)


def second_difference(z: np.ndarray, h: float) -> tuple[float, float]:
    """d2/da2 and d2/db2 at the grid centre; a runs along columns, b along rows."""
    c = z.shape[0] // 2
    return (z[c, c + 1] - 2 * z[c, c] + z[c, c - 1]) / h**2, (z[c + 1, c] - 2 * z[c, c] + z[c - 1, c]) / h**2


@pytest.mark.parametrize("directions", [(1, 2), (2, 4), (3, 5)])
def test_plotted_surface_has_the_closed_form_curvature_at_the_stationary_point(directions):
    setting = figure1.choose(SYNTHETIC, "synthetic_ppca", directions)
    for sigma2 in setting.sigma2s:
        for num, rel in ((figure1.GRID_POINTS, 0.01), (1001, 2e-4)):
            a, b, z = figure1.surface(setting, sigma2, num)
            c = num // 2
            assert a[c, c] == 0 and b[c, c] == 0 and z[c, c] == 0  # the stationary point is on the grid
            h = a[c, c + 1] - a[c, c]
            d2a, d2b = second_difference(z, h)
            assert d2a == pytest.approx((setting.lambda_a - sigma2) / sigma2**2, rel=rel)
            assert d2b == pytest.approx((setting.lambda_b - sigma2) / sigma2**2, rel=rel)


def test_three_default_sigma2_give_the_three_regimes():
    setting = figure1.choose(SYNTHETIC, "synthetic_ppca")
    kinds = [figure1.regime(setting.lambda_a, setting.lambda_b, s) for s in setting.sigma2s]
    assert kinds == ["saddle", "partly stable", "stable"]
    signs = [(np.sign(figure1.curvature(setting.lambda_a, s)), np.sign(figure1.curvature(setting.lambda_b, s)))
             for s in setting.sigma2s]
    assert signs == [(1, 1), (1, -1), (-1, -1)]


def test_surface_equals_the_exact_ppca_log_likelihood_in_the_full_space():
    """Build the stationary point explicitly and move its zero column; compare with l itself."""
    torch.manual_seed(0)
    n, k = 6, 3
    eigvals = torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.2], dtype=torch.float64)
    basis, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64))
    moments = DataMoments(mean=torch.zeros(n, dtype=torch.float64), cov=basis @ torch.diag(eigvals) @ basis.T,
                          num_examples=1000)
    sigma2 = 1.5
    # Column 0 sits on u_3 (lambda 2 > sigma2), column 1 is zero on u_4 (lambda 1 < sigma2), column 2 is zero;
    # u_1, u_2 are the unused directions the figure moves the zero column along.
    W0 = torch.zeros(n, k, dtype=torch.float64)
    W0[:, 0] = basis[:, 2] * (2.0 - sigma2) ** 0.5
    base = float(ppca.average_log_likelihood(moments, W0, moments.mean, sigma2))
    for a_val, b_val in [(0.3, 0.0), (0.0, -0.7), (1.1, 0.4), (-2.0, 1.5)]:
        W = W0.clone()
        W[:, 2] = a_val * basis[:, 0] + b_val * basis[:, 1]
        exact = float(ppca.average_log_likelihood(moments, W, moments.mean, sigma2)) - base
        drawn = float(ppca.zero_column_surface(5.0, 3.0, sigma2, torch.tensor(a_val, dtype=torch.float64),
                                          torch.tensor(b_val, dtype=torch.float64)))
        assert drawn == pytest.approx(exact, abs=1e-10)


def test_bad_directions_and_sigma2_are_one_clear_error():
    with pytest.raises(ReportError, match="--directions 1,1"):
        figure1.choose(SYNTHETIC, "s", (1, 1))
    with pytest.raises(ReportError, match="distinct"):
        figure1.choose(SYNTHETIC, "s", (7, 8))  # both 0.1: no partly stable band
    with pytest.raises(ReportError, match="between 1 and 20"):
        figure1.choose(SYNTHETIC, "s", (1, 21))
    with pytest.raises(ReportError, match="three finite values > 0"):
        figure1.choose(SYNTHETIC, "s", (1, 2), (1.0, -1.0, 2.0))
