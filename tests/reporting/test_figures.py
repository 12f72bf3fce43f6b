"""The run's PNG figures: valid files, written atomically, drawing what they were given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_collapse.maths.collapse import collapse_curve
from vae_collapse.reporting.figures import (
    GRID_GAP,
    save_collapse_curve,
    save_collapse_curves,
    save_image_grid,
    save_kl_per_dim_chart,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path: Path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return matplotlib.image.imread(path)


def only_file(folder: Path) -> Path:
    # Also proves no temp file (hidden or not) was left next to the figure.
    files = sorted(folder.iterdir())
    assert len(files) == 1, files
    return files[0]


@pytest.fixture
def kl_matrix() -> torch.Tensor:
    torch.manual_seed(0)
    # 3 clearly active, 2 almost collapsed, 3 exactly collapsed dimensions.
    return torch.cat([torch.rand(200, 3) + 0.5, torch.rand(200, 2) * 1e-3, torch.zeros(200, 3)], dim=1)


def test_grayscale_grid_is_a_png_of_the_tiled_size(tmp_path):
    out = save_image_grid(torch.rand(10, 1, 28, 28), tmp_path / "grid.png", nrow=4, title="Samples")
    assert out == tmp_path / "grid.png"
    assert only_file(tmp_path) == out
    pixels = read_png(out)
    # 4 columns of 28 px plus gaps, enlarged by a whole factor; 3 rows plus a title band.
    grid_w = 4 * (28 + GRID_GAP) + GRID_GAP
    grid_h = 3 * (28 + GRID_GAP) + GRID_GAP
    assert pixels.shape[1] % grid_w == 0 and pixels.shape[1] >= grid_w
    scale = pixels.shape[1] // grid_w
    assert pixels.shape[0] > grid_h * scale
    # Grey colour map: every pixel has R == G == B.
    assert np.allclose(pixels[..., 0], pixels[..., 1]) and np.allclose(pixels[..., 1], pixels[..., 2])


def test_rgb_grid_keeps_colour(tmp_path):
    images = torch.zeros(3, 3, 8, 8)
    images[:, 0] = 1.0  # pure red tiles
    out = save_image_grid(images, tmp_path / "rgb.png", nrow=8)
    pixels = read_png(out)
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.1) & (pixels[..., 2] < 0.1)
    white = (pixels[..., :3] > 0.99).all(axis=-1)
    # One row of three 8x8 tiles: every pixel is either tile (red) or gap (white), enlarged evenly.
    grid_w, grid_h = 3 * (8 + GRID_GAP) + GRID_GAP, 8 + 2 * GRID_GAP
    assert red.mean() == pytest.approx(3 * 8 * 8 / (grid_w * grid_h))
    assert (red | white).all()


def test_flat_input_with_sample_shape_matches_the_image_input(tmp_path):
    torch.manual_seed(1)
    images = torch.rand(6, 1, 28, 28)
    a = read_png(save_image_grid(images, tmp_path / "a.png", nrow=3))
    b = read_png(save_image_grid(images.reshape(6, -1), tmp_path / "b.png", nrow=3, sample_shape=(1, 28, 28)))
    c = read_png(save_image_grid(images.reshape(6, -1), tmp_path / "c.png", nrow=3, sample_shape=(28, 28)))
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_out_of_range_values_are_clamped_not_fatal(tmp_path):
    ones = read_png(save_image_grid(torch.ones(4, 1, 5, 5), tmp_path / "ones.png"))
    big = read_png(save_image_grid(torch.full((4, 1, 5, 5), 7.5), tmp_path / "big.png"))
    zeros = read_png(save_image_grid(torch.zeros(4, 1, 5, 5), tmp_path / "zeros.png"))
    negative = read_png(save_image_grid(torch.full((4, 1, 5, 5), -3.0), tmp_path / "neg.png"))
    assert np.array_equal(ones, big)
    assert np.array_equal(zeros, negative)
    assert not np.array_equal(ones, zeros)
    mixed = torch.randn(4, 3, 5, 5) * 4
    mixed[0, 0, 0, 0] = float("nan")
    read_png(save_image_grid(mixed, tmp_path / "mixed.png"))


@pytest.mark.parametrize(
    ("images", "kwargs"),
    [
        (torch.rand(4, 784), {}),  # flat without a shape
        (torch.rand(4, 784), {"sample_shape": (1, 20, 20)}),  # wrong size
        (torch.rand(4, 2, 8, 8), {}),  # 2 channels
        (torch.rand(0, 1, 8, 8), {}),  # nothing to draw
        (torch.rand(4, 1, 8, 8), {"nrow": 0}),
    ],
)
def test_bad_grid_input_is_refused_without_leaving_files(tmp_path, images, kwargs):
    with pytest.raises(ValueError):
        save_image_grid(images, tmp_path / "bad.png", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_kl_chart(tmp_path, kl_matrix):
    out = save_kl_per_dim_chart(kl_matrix, tmp_path / "sub" / "kl.png", eps=0.01, title="val KL")
    assert only_file(tmp_path / "sub") == out
    height, width = read_png(out).shape[:2]
    assert height > 200 and width > 300
    # (k,) means, non-finite and negative rounding noise are drawn too.
    noisy = torch.tensor([1.0, 0.0, -1e-7, float("nan"), float("inf")])
    read_png(save_kl_per_dim_chart(noisy, tmp_path / "noisy.png"))
    read_png(save_kl_per_dim_chart(torch.zeros(100), tmp_path / "many.png"))


def test_kl_chart_reports_the_number_of_dims_above_eps(tmp_path, kl_matrix, monkeypatch):
    from matplotlib.figure import Figure as Axes  # the chart's legend is the figure's, above the axes

    legends = []
    real_legend = Axes.legend

    def spy(self, *args, **kwargs):
        legends.append([h.get_label() for h in kwargs.get("handles", [])])
        return real_legend(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "legend", spy)
    save_kl_per_dim_chart(kl_matrix, tmp_path / "kl.png", eps=0.01)
    labels = legends[-1]
    assert any("collapse threshold eps" in label for label in labels)
    assert "mean above eps: 3 of 8 dims" in labels
    save_kl_per_dim_chart(kl_matrix, tmp_path / "kl.png", eps=1e-5)
    assert "mean above eps: 5 of 8 dims" in legends[-1]
    # Given the (eps, delta) verdict, the colours and the count follow it, not the mean.
    from vae_collapse.maths.collapse import collapsed_dims

    spiky = torch.zeros(200, 3)
    spiky[:10, 0] = 0.05  # 5% of examples above eps: active, though the mean KL (0.0025) is below eps
    spiky[:, 1] = 0.5
    verdict = collapsed_dims(spiky, 0.01, 0.01)
    assert verdict.tolist() == [False, False, True]
    save_kl_per_dim_chart(spiky, tmp_path / "spiky.png", eps=0.01, collapsed=verdict, delta=0.01)
    assert any(label.startswith("active: 2 of 3") for label in legends[-1]), legends[-1]
    assert "(0.01, 0.01)-collapsed: 1 of 3" in legends[-1]


def test_collapse_curves(tmp_path, kl_matrix):
    eps = torch.logspace(-5, 1, 25)
    single = save_collapse_curve(eps, collapse_curve(kl_matrix, eps), tmp_path / "one.png", label="linear")
    several = save_collapse_curves(
        {"linear": (eps, collapse_curve(kl_matrix, eps)), "deep": (eps, collapse_curve(kl_matrix * 0.1, eps))},
        tmp_path / "two.png",
        delta=0.05,
        title="Collapse curves",
    )
    for out in (single, several):
        height, width = read_png(out).shape[:2]
        assert height > 200 and width > 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png", "two.png"]
    with pytest.raises(ValueError):
        save_collapse_curve(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]), tmp_path / "zero_eps.png")
    with pytest.raises(ValueError):
        save_collapse_curve(eps, torch.zeros(3), tmp_path / "mismatch.png")
    with pytest.raises(ValueError):
        save_collapse_curves({}, tmp_path / "empty.png")


def test_overwrite_is_atomic_and_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = save_image_grid(torch.zeros(2, 1, 4, 4), tmp_path / "grid.png")
    before = target.read_bytes()
    save_image_grid(torch.ones(2, 1, 4, 4), target)
    assert target.read_bytes() != before and only_file(tmp_path) == target
    after = target.read_bytes()

    def broken(self, fname, *args, **kwargs):
        fname.write(b"half a png")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_image_grid(torch.rand(2, 1, 4, 4), target)
    assert only_file(tmp_path) == target
    assert target.read_bytes() == after


def test_many_calls_leave_no_open_figures(tmp_path):
    import matplotlib.pyplot as plt

    for _ in range(10):
        save_image_grid(torch.rand(2, 1, 4, 4), tmp_path / "grid.png")
    assert plt.get_fignums() == []


def test_importing_figures_does_not_import_matplotlib():
    code = "import vae_collapse.reporting.figures, sys; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_spectrum_chart_draws_ppcas_own_sigma2_only_where_it_differs(tmp_path):
    from vae_collapse.reporting.figures import save_spectrum_chart, spectrum_figure

    def legend(fig) -> list[str]:
        return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]

    spectra = {"data covariance": torch.tensor([5.0, 2.0, 1.0, 0.1]), "residual": torch.tensor([0.5, 0.2])}
    plain = legend(spectrum_figure(spectra, 1.37))
    assert plain == ["data covariance: 2 above the run's $\\sigma^2$", "residual: 0 above the run's $\\sigma^2$",
                     "the run's $\\sigma^2$ = 1.37"]
    assert legend(spectrum_figure(spectra, 1.37, reference_sigma2=1.37)) == plain  # pPCA at the run's own sigma^2
    learned = legend(spectrum_figure(spectra, 1.37, reference_sigma2=0.0176))
    assert learned == plain + ["pPCA's fitted $\\sigma^2$ = 0.0176 (ppca/sigma2)"]
    assert save_spectrum_chart(spectra, 1.37, tmp_path / "s.png").read_bytes()[:8] == PNG_SIGNATURE
