"""Figure 1: the pPCA log-likelihood around a stationary point with a zero column.

The surface is closed-form from the data's covariance spectrum (``maths.ppca``): moving the
zero column to a u_a + b u_b, with u_a, u_b two principal directions no other column uses,
changes the average log-likelihood by ``zero_column_surface``. Its curvature along u_m at the
stationary point is (lambda_m - sigma^2) / sigma^4, so the three panels show sigma^2 below
both eigenvalues (a saddle: l rises both ways), between them (partly stable) and above both
(stable: a local maximum, the column stays collapsed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vae_collapse.maths.ppca import zero_column_surface
from vae_collapse.report.errors import ReportError
from vae_collapse.report.plotting import FigureResult, new_figure, save, suptitle

GRID_POINTS = 121
# The plotted square reaches past the optimum along u_a, where ||w||^2 = lambda_a - sigma^2.
EXTENT_FACTOR = 1.5


@dataclass(frozen=True)
class Figure1Setting:
    index_a: int  # 1-based: lambda_1 is the largest eigenvalue
    index_b: int
    lambda_a: float
    lambda_b: float
    sigma2s: tuple[float, float, float]
    source: str  # where the spectrum came from, in words

    @property
    def extent(self) -> float:
        return EXTENT_FACTOR * math.sqrt(self.lambda_a)


def regime(lambda_a: float, lambda_b: float, sigma2: float) -> str:
    """The stationary point's kind within the (u_a, u_b) plane; lambda_a > lambda_b."""
    if sigma2 < lambda_b:
        return "saddle"
    if sigma2 < lambda_a:
        return "partly stable"
    return "stable"


def curvature(lambda_m: float, sigma2: float) -> float:
    """d^2 l / d eps^2 at the zero column along u_m: the closed form the surface must match."""
    return (lambda_m - sigma2) / sigma2**2


def choose(eigvals: np.ndarray, source: str, directions: tuple[int, int] = (1, 2),
           sigma2s: tuple[float, ...] | None = None) -> Figure1Setting:
    """Two directions and three sigma^2, one in each regime unless the user names them."""
    eigvals = np.sort(np.asarray(eigvals, dtype=np.float64))[::-1]
    i, j = directions
    if not (1 <= i <= len(eigvals) and 1 <= j <= len(eigvals)) or i == j:
        raise ReportError(f"--directions {i},{j}: need two different indices between 1 and {len(eigvals)}")
    i, j = min(i, j), max(i, j)
    lambda_a, lambda_b = float(eigvals[i - 1]), float(eigvals[j - 1])
    if not lambda_a > lambda_b > 0:
        raise ReportError(
            f"--directions {i},{j}: eigenvalues {lambda_a:g} and {lambda_b:g} must be distinct and > 0 "
            "for three regimes; pick directions with different variances"
        )
    if sigma2s is None:
        sigma2s = (lambda_b / 2.0, math.sqrt(lambda_a * lambda_b), 2.0 * lambda_a)
    if len(sigma2s) != 3 or not all(0 < s < math.inf for s in sigma2s):
        raise ReportError(f"--sigma2 {','.join(map(str, sigma2s))}: need three finite values > 0")
    return Figure1Setting(i, j, lambda_a, lambda_b, tuple(float(s) for s in sigma2s), source)


def surface(setting: Figure1Setting, sigma2: float, num: int = GRID_POINTS):
    """(a, b, change in l) on the plotted grid, a along u_a, b along u_b; float64 numpy."""
    if num < 3 or num % 2 == 0:
        raise ValueError(f"num={num} must be odd and >= 3, so the stationary point is a grid point")
    half = num // 2
    # Integer steps times the spacing: the centre is exactly 0 and the grid exactly symmetric.
    axis = torch.arange(-half, half + 1, dtype=torch.float64) * (setting.extent / half)
    a, b = torch.meshgrid(axis, axis, indexing="xy")
    values = zero_column_surface(setting.lambda_a, setting.lambda_b, sigma2, a, b)
    return a.numpy(), b.numpy(), values.numpy()


# The panel titles use the caption's words; report.json keeps the short regime names.
REGIME_WORDS = {"stable": "local maximum (stable)"}


def draw(setting: Figure1Setting, out_dir: Path) -> FigureResult:
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(15.0, 4.9)
    axes = fig.subplots(1, 3)
    panels = []
    for ax, sigma2 in zip(axes, setting.sigma2s):
        a, b, z = surface(setting, sigma2)
        kind = regime(setting.lambda_a, setting.lambda_b, sigma2)
        lo, hi = float(z.min()), float(z.max())
        # Zero (the stationary point's own value) is white; rises red, falls blue.
        norm = TwoSlopeNorm(vcenter=0.0, vmin=min(lo, -1e-12), vmax=max(hi, 1e-12))
        # Levels on each side of 0 separately: in the partly stable panel the rise along u_a is
        # a hundred times smaller than the fall, and shared levels would hide it.
        levels = np.unique(np.concatenate([np.linspace(lo, 0.0, 16) if lo < 0 else [],
                                           np.linspace(0.0, hi, 12) if hi > 0 else [0.0]]))
        if len(levels) < 2:
            levels = np.array([-1e-12, 1e-12])
        image = ax.contourf(a, b, z, levels=levels, cmap="RdBu_r", norm=norm)
        ax.contour(a, b, z, levels=[0.0], colors="k", linewidths=0.8, linestyles="--")
        ax.plot([0], [0], marker="o", color="k", markersize=6)
        ax.set_aspect("equal")
        ca, cb = curvature(setting.lambda_a, sigma2), curvature(setting.lambda_b, sigma2)
        ax.set_title(f"σ² = {sigma2:.3g}: {REGIME_WORDS.get(kind, kind)}\ncurvature along u_{setting.index_a}: "
                     f"{ca:+.3g}, u_{setting.index_b}: {cb:+.3g}", fontsize=10)
        ax.set_xlabel(f"column along u_{setting.index_a} (λ = {setting.lambda_a:.3g})  [data units]")
        ax.set_ylabel(f"column along u_{setting.index_b} (λ = {setting.lambda_b:.3g})  [data units]")
        bar = fig.colorbar(image, ax=ax, shrink=0.85, format="%.2g", label="change in log-likelihood  [nats per example]")
        # Round ticks, not the contour levels (odd values such as 0.32 or -0.038), chosen on each side
        # of 0 apart: the two sides can differ a hundredfold, like the levels.
        ticks = [t for side, bins in ((lo, 4), (hi, 3)) if side != 0
                 for t in MaxNLocator(nbins=bins).tick_values(min(side, 0.0), max(side, 0.0)) if lo <= t <= hi]
        bar.set_ticks(sorted(set(ticks) | {0.0}))
        panels.append({"sigma2": sigma2, "regime": kind, "curvature_a": ca, "curvature_b": cb,
                       "min_change": lo, "max_change": hi})
    suptitle(fig, f"pPCA log-likelihood around a stationary point with a zero column ({setting.source})")
    path = save(fig, out_dir, "fig1_ppca_surface")
    caption = (
        f"Change in the average pPCA log-likelihood when one zero column of a stationary point moves in the "
        f"plane of the principal directions u_{setting.index_a} and u_{setting.index_b} (λ = {setting.lambda_a:.4g}, "
        f"{setting.lambda_b:.4g}), which the other columns do not use. Closed form from the covariance spectrum of "
        f"{setting.source}. The curvature along u_m (in the titles, nats per example per squared data unit) is "
        "(λ_m − σ²)/σ⁴: at σ² below both eigenvalues the point is a "
        "saddle (the column grows), between them it is stable along one direction only, above both it is a local "
        "maximum and the column stays collapsed. Each panel has its own colour scale (the changes differ by orders "
        "of magnitude between panels): white is no change, red a rise, blue a fall, and the dashed line is where "
        "the change is zero."
    )
    return FigureResult(1, "fig1_ppca_surface", "pPCA log-likelihood around a zero column", path, caption, {
        "source": setting.source,
        "directions": [setting.index_a, setting.index_b],
        "eigenvalues": [setting.lambda_a, setting.lambda_b],
        "extent": setting.extent,
        "panels": panels,
    })
