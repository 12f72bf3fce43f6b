"""PNG figures a run leaves in its run directory: sample grids, KL per dimension, collapse curves.

matplotlib is imported inside the functions only: a run that never draws (or a test that
only needs the maths) should not pay its import time. Figures are built with the
object-oriented ``Figure`` + Agg canvas rather than pyplot, so nothing depends on a
display, the process-wide backend is left alone, and no figure is registered with a
global manager that would keep it alive between calls.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from vae_collapse.reporting.atomic import atomic_open

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

# Pixels between tiles of an image grid; white so the tile edges stay visible on black digits.
GRID_GAP = 2
# Grids are enlarged by a whole factor until they are at least this wide, so 28x28 digits
# stay legible without resampling blur.
GRID_MIN_WIDTH_PX = 480
DPI = 100


def _to_numpy(values: Any) -> np.ndarray:
    # Tensors may live on an accelerator or carry autograd history; figures only need the values.
    if hasattr(values, "detach"):
        values = values.detach().cpu()
        if values.is_floating_point() or values.is_complex():
            values = values.double()
        return values.numpy()
    return np.asarray(values)


def _wrapped(title: str, width: int = 64) -> str:
    """A title broken into lines that fit a 6.4-inch figure: matplotlib clips one long line."""
    return "\n".join(textwrap.fill(line, width) for line in title.split("\n"))


def _write_png(fig: Figure, path: Path | str) -> Path:
    """Render ``fig`` into ``path`` atomically, so a reader never sees half a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    try:
        with atomic_open(path, "wb") as handle:
            fig.savefig(handle, format="png", dpi=DPI)
    finally:
        # Drop the artists now rather than whenever the garbage collector gets to them.
        fig.clear()
    return path


# The report's figures (vae_collapse.report) are written the same way.
write_png = _write_png


# --------------------------------------------------------------------------- image grids


def _as_nchw(images: Any, sample_shape: Sequence[int] | None) -> np.ndarray:
    array = _to_numpy(images).astype(np.float64, copy=False)
    if array.ndim == 2:
        if sample_shape is None:
            raise ValueError(f"flat images of shape {tuple(array.shape)} need sample_shape, e.g. (1, 28, 28)")
        shape = tuple(int(s) for s in sample_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or math.prod(shape) != array.shape[1]:
            raise ValueError(
                f"sample_shape={tuple(sample_shape)} does not fit {array.shape[1]} values per image; "
                "expected (C, H, W) or (H, W) with the same number of values"
            )
        array = array.reshape(array.shape[0], *shape)
    if array.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W) or (N, D) with sample_shape, got shape {tuple(array.shape)}")
    if array.shape[1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {array.shape[1]}")
    if array.shape[0] == 0:
        raise ValueError("no images to draw")
    # NaN would be drawn as an arbitrary colour by imshow; black marks it as "no signal".
    return np.clip(np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _tile(images: np.ndarray, nrow: int) -> np.ndarray:
    """(N, C, H, W) -> (rows*(H+gap)+gap, cols*(W+gap)+gap, C) with white gaps."""
    num, channels, height, width = images.shape
    cols = min(nrow, num)
    rows = math.ceil(num / cols)
    canvas = np.ones(
        (rows * (height + GRID_GAP) + GRID_GAP, cols * (width + GRID_GAP) + GRID_GAP, channels), dtype=np.float64
    )
    for index in range(num):
        row, col = divmod(index, cols)
        top = GRID_GAP + row * (height + GRID_GAP)
        left = GRID_GAP + col * (width + GRID_GAP)
        canvas[top : top + height, left : left + width] = images[index].transpose(1, 2, 0)
    return canvas


def save_image_grid(
    images: torch.Tensor,
    path: Path | str,
    nrow: int = 8,
    title: str | None = None,
    *,
    sample_shape: Sequence[int] | None = None,
) -> Path:
    """Save images (N, C, H, W), C in {1, 3}, as a grid with ``nrow`` images per row.

    Flat images (N, D) are reshaped with ``sample_shape`` ((C, H, W) or (H, W)). Values are
    clamped to [0, 1] (decoder means can overshoot slightly); 1-channel images are grey.
    """
    from matplotlib.figure import Figure

    if nrow < 1:
        raise ValueError(f"nrow={nrow} must be >= 1")
    grid = _tile(_as_nchw(images, sample_shape), nrow)
    grid_h, grid_w = grid.shape[:2]
    scale = max(1, math.ceil(GRID_MIN_WIDTH_PX / grid_w))
    img_h, img_w = grid_h * scale, grid_w * scale
    title_h = 18 + 20 * title.count("\n") + 22 if title else 0
    fig = Figure(figsize=(img_w / DPI, (img_h + title_h) / DPI), dpi=DPI)
    # The axes fill the figure below the title band, so each image pixel is exactly
    # ``scale`` PNG pixels and the grid is not resampled.
    ax = fig.add_axes((0.0, 0.0, 1.0, img_h / (img_h + title_h)))
    ax.set_axis_off()
    if grid.shape[2] == 1:
        ax.imshow(grid[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
    else:
        ax.imshow(grid, interpolation="nearest", aspect="auto")
    if title:
        fig.suptitle(title, y=1.0 - 0.5 * title_h / (img_h + title_h), va="center", fontsize=11)
    return _write_png(fig, path)


# --------------------------------------------------------------------------- KL per dimension


def save_kl_per_dim_chart(
    kl_per_dim: torch.Tensor,
    path: Path | str,
    eps: float = 0.01,
    title: str | None = None,
    collapsed: torch.Tensor | None = None,
    delta: float = 0.01,
) -> Path:
    """Bar chart of the mean KL(q(z_i|x) || p(z_i)) per latent dimension, largest first.

    ``kl_per_dim`` is (k,) means or (N, k) per-example values, averaged over examples.
    ``collapsed`` (k,) is the (eps, delta) verdict from per-example KLs; the bars are coloured by
    it, so the count in the legend is ``collapse/active_dims``. Without it, by mean KL against eps.
    The y axis is logarithmic; values at or below a floor (zeros of a fully collapsed
    dimension, small negative rounding errors) are drawn at the floor so they stay visible.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if eps <= 0:
        raise ValueError(f"eps={eps} must be > 0 (it is drawn on a log axis)")
    kl = _to_numpy(kl_per_dim).astype(np.float64, copy=False)
    if kl.ndim == 2:
        kl = kl.mean(axis=0)
    if kl.ndim != 1 or kl.size == 0:
        raise ValueError(f"kl_per_dim must be (k,) or (N, k) with k >= 1, got shape {tuple(kl.shape)}")

    finite = np.isfinite(kl)
    positive = kl[finite & (kl > 0)]
    # Below both eps and the smallest real value, so the floor never hides a measured KL.
    floor = min(eps, positive.min() if positive.size else eps) / 10.0
    order = np.argsort(-np.where(finite, kl, -np.inf), kind="stable")
    shown = np.where(finite, np.maximum(kl, floor), floor)[order]
    if collapsed is not None:
        verdict = ~_to_numpy(collapsed).astype(bool).reshape(-1)
        if verdict.shape != kl.shape:
            raise ValueError(f"collapsed has {verdict.size} entries for {kl.size} latent dimensions")
        active = verdict[order]
    else:
        active = (np.where(finite, kl, 0.0) > eps)[order]
    num_active = int(active.sum())
    bottom = floor / 3.0

    k = kl.size
    width = max(6.4, min(16.0, 0.25 * k + 2.0))
    fig = Figure(figsize=(width, 4.2 if width >= 12 else 5.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    colors = np.where(active, "tab:blue", "tab:gray")
    # Bars start below the floor: a bar from the axis edge to the floor marks "zero here".
    ax.bar(np.arange(k), shown - bottom, bottom=bottom, color=colors, width=0.8)
    ax.set_yscale("log")
    top = max(float(shown.max()), eps) * 3.0
    ax.set_ylim(bottom, top)
    ax.axhline(eps, color="tab:red", linestyle="--", linewidth=1.2)
    if k <= 128:  # each bar keeps its latent's index (matches kl_per_dim.csv), turned when crowded
        ax.set_xticks(np.arange(k), [str(i) for i in order], fontsize=10 if k <= 20 else 8 if k <= 40 else 6,
                      rotation=0 if k <= 40 else 90)
        ax.set_xlabel("latent dimension index (sorted by KL, largest first)")
    else:
        ax.set_xlabel("latent dimensions, ranked by KL (largest first)")
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_ylabel("mean KL(q(z_i | x) || p(z_i))  [nats]")
    ax.set_title(_wrapped(title or "KL per latent dimension", int(10 * width)), fontsize=11)
    ax.grid(axis="y", which="major", alpha=0.3)

    if collapsed is not None:
        handles = [
            Line2D([], [], color="tab:red", linestyle="--", label=f"eps = {eps:g} nats"),
            Patch(color="tab:blue", label=f"active: {num_active} of {k} (KL > eps on more than {delta:.0%} of examples)"),
            Patch(color="tab:gray", label=f"({eps:g}, {delta:g})-collapsed: {k - num_active} of {k}"),
        ]
    else:
        handles = [
            Line2D([], [], color="tab:red", linestyle="--", label=f"collapse threshold eps = {eps:g} nats"),
            Patch(color="tab:blue", label=f"mean above eps: {num_active} of {k} dims"),
            Patch(color="tab:gray", label=f"mean at or below eps: {k - num_active} of {k} dims"),
        ]
    clipped = int((finite & (kl < floor)).sum())
    if clipped:
        handles.append(Patch(color="none", label=f"KL < {floor:.1g} (incl. zeros) drawn at {floor:.1g}: {clipped}"))
    if not finite.all():
        handles.append(Patch(color="none", label=f"non-finite KL (drawn at floor): {int((~finite).sum())}"))
    # Below the axes, not on them: inside, it can cover the bars or the eps line; above, the title.
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3) if width >= 12 else 1,
               fontsize=9, frameon=False)
    return _write_png(fig, path)


# --------------------------------------------------------------------------- spectra


def save_spectrum_chart(
    spectra: Mapping[str, Any],
    sigma2: float,
    path: Path | str,
    title: str | None = None,
    reference_sigma2: float | None = None,
) -> Path:
    """Write :func:`spectrum_figure` to ``path``."""
    return _write_png(spectrum_figure(spectra, sigma2, title, reference_sigma2), path)


def spectrum_figure(
    spectra: Mapping[str, Any],
    sigma2: float,
    title: str | None = None,
    reference_sigma2: float | None = None,
):
    """Covariance eigenvalues against sigma^2, largest first: {label: eigenvalues}.

    The linear theory's test is where each spectrum crosses the sigma^2 line; the legend gives
    each spectrum's count above it. Indices run up to a little past the last crossing (at least
    40), on a log y axis; zero eigenvalues are left out. ``reference_sigma2``: pPCA's own sigma^2
    (``ppca/sigma2``) where it is not the run's (learned sigma^2: pPCA fits its own), drawn as a
    second line so that the chart and ``ppca/active_dims`` do not seem to disagree.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter, LogFormatter, NullFormatter

    if not spectra:
        raise ValueError("no spectra to draw")
    if not 0 < sigma2 < math.inf:
        raise ValueError(f"sigma2={sigma2} must be > 0 and finite (it is drawn on a log axis)")
    prepared = {label: np.sort(_to_numpy(v).astype(np.float64, copy=False).ravel())[::-1] for label, v in spectra.items()}
    above = {label: int((v > sigma2).sum()) for label, v in prepared.items()}
    longest = max(v.size for v in prepared.values())  # 20 eigenvalues are not drawn on 40 places
    shown = min(longest, max(40, int(1.5 * max(above.values())) + 5))
    fig = Figure(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for (label, values), marker in zip(prepared.items(), "os^vD"):
        values = values[:shown]
        index = np.arange(1, values.size + 1)
        keep = values > 0
        ax.plot(index[keep], values[keep], marker=marker, markersize=3, linewidth=1.2,
                label=f"{label}: {above[label]} above the run's $\\sigma^2$")
    ax.axhline(sigma2, color="tab:red", linestyle="--", linewidth=1.2, label=f"the run's $\\sigma^2$ = {sigma2:.4g}")
    if reference_sigma2 is not None and 0 < reference_sigma2 < math.inf and not math.isclose(reference_sigma2, sigma2):
        ax.axhline(reference_sigma2, color="grey", linestyle=":", linewidth=1.2,
                   label=f"pPCA's fitted $\\sigma^2$ = {reference_sigma2:.4g} (ppca/sigma2)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    # Minor ticks labelled only on a short axis: over a decade or more 0.6-0.9 crowd against 1.
    low, high = ax.get_ylim()
    # Within two decades some minor ticks (2, 3, 5, ...) are labelled, so a short axis still reads.
    class PlainMinor(LogFormatter):  # matplotlib's choice of which minor ticks to label, written as 0.6 not 6e-01
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    ax.yaxis.set_minor_formatter(PlainMinor(labelOnlyBase=False, minor_thresholds=(2, 0.4))
                                 if high / low < 100 else NullFormatter())
    ax.set_xlim(0, shown + 1)
    longest = max(v.size for v in prepared.values())
    ax.set_xlabel("eigenvalue index (largest first)" + (f"; the top {shown} of {longest}" if longest > shown else ""))
    ax.set_ylabel("covariance eigenvalue")
    ax.set_title(_wrapped(title or "Spectra against $\\sigma^2$", 70), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return fig


# --------------------------------------------------------------------------- collapse curves


def save_collapse_curves(
    curves: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    path: Path | str,
    delta: float = 0.01,
    title: str | None = None,
) -> Path:
    """Several collapse curves on one axes: {label: (eps_grid, collapsed_fraction)}.

    The x axis is eps on a log scale, the y axis the fraction of latent dimensions that are
    (eps, delta)-collapsed (Lucas et al. 2019, fig. 3). An empty label is left out of the legend.
    """
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError("no collapse curves to draw")
    prepared = []
    for label, (eps_grid, fraction) in curves.items():
        eps_np = _to_numpy(eps_grid).astype(np.float64, copy=False).ravel()
        frac_np = _to_numpy(fraction).astype(np.float64, copy=False).ravel()
        if eps_np.shape != frac_np.shape or eps_np.size == 0:
            raise ValueError(
                f"curve {label!r}: eps_grid and collapsed_fraction must be non-empty and the same length, "
                f"got {eps_np.size} and {frac_np.size}"
            )
        if not (eps_np > 0).all():
            raise ValueError(f"curve {label!r}: eps values must be > 0 for the log axis")
        order = np.argsort(eps_np, kind="stable")
        prepared.append((label, eps_np[order], frac_np[order]))

    fig = Figure(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for label, eps_np, frac_np in prepared:
        # Markers only where they can be told apart; dense grids read better as lines.
        marker = "o" if eps_np.size <= 30 else None
        ax.plot(eps_np, frac_np, marker=marker, markersize=4, linewidth=1.6, label=label or None)
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("eps: KL threshold  [nats]")
    ax.set_ylabel(f"fraction of latent dims\n(eps, delta={delta:g})-collapsed")
    ax.set_title(_wrapped(title or f"Posterior collapse (delta = {delta:g})", 58))
    ax.grid(True, which="major", alpha=0.3)
    if any(label for label, _, _ in prepared):
        ax.legend(loc="best", fontsize=9)
    return _write_png(fig, path)


def save_collapse_curve(
    eps_grid: torch.Tensor,
    collapsed_fraction: torch.Tensor,
    path: Path | str,
    delta: float = 0.01,
    title: str | None = None,
    label: str | None = None,
) -> Path:
    """One collapse curve; see :func:`save_collapse_curves`."""
    return save_collapse_curves({label or "": (eps_grid, collapsed_fraction)}, path, delta=delta, title=title)
