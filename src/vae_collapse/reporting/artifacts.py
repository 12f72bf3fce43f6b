"""Files a run leaves beside summary.json (CSVs and PNGs), mirrored to W&B when it is active.

W&B keys use the metric-name API: ``collapse/curve``, ``<stage>/kl_dim``, ``media/...``.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import torch
from lightning.pytorch.loggers import Logger

from vae_collapse.models.vae import GaussianVAE
from vae_collapse.training.evaluate import Collapse

NUM_IMAGES = 32


def write_csv_atomic(path: Path, header: list[str], rows: list[list]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def collapse_tables(collapse: Collapse, eps: float) -> dict[str, tuple[list[str], list[list]]]:
    curve = [[float(e), float(f)] for e, f in zip(collapse.eps_grid, collapse.fraction_collapsed)]
    dims = [[i, float(v), bool(v < eps)] for i, v in enumerate(collapse.kl_dim)]
    return {
        "collapse_curve": (["eps", "fraction_collapsed"], curve),
        "kl_per_dim": (["dim", "mean_kl", "mean_below_eps"], dims),
    }


def write_run_artifacts(
    run_dir: Path,
    stage: str,
    collapse: Collapse,
    model: GaussianVAE,
    examples: torch.Tensor,
    sample_shape: tuple[int, ...],
    eps: float,
    delta: float,
    loggers: list[Logger],
    step: int,
) -> dict[str, Path]:
    """CSV tables and PNG figures in ``run_dir``; the same media in W&B when a W&B logger is active."""
    from vae_collapse.reporting import figures, media

    tables = collapse_tables(collapse, eps)
    files = {name: write_csv_atomic(run_dir / f"{name}.csv", *table) for name, table in tables.items()}
    images: dict[str, Path] = {}
    images["collapse/curve_plot"] = figures.save_collapse_curve(
        collapse.eps_grid, collapse.fraction_collapsed, run_dir / "collapse_curve.png", delta=delta,
        title=f"(eps, {delta})-collapse on the {stage} split",
    )
    images[f"{stage}/kl_dim_chart"] = figures.save_kl_per_dim_chart(
        collapse.kl_dim, run_dir / "kl_per_dim.png", eps=eps, title=f"Mean KL per latent dimension ({stage})"
    )
    is_image = len(sample_shape) == 3
    if is_image:
        shown = examples[:NUM_IMAGES]
        with torch.no_grad():
            recon = model.reconstruct(shown)
        pairs = torch.stack([shown, recon], dim=1).reshape(-1, shown.shape[1])
        images["media/reconstructions"] = figures.save_image_grid(
            pairs, run_dir / "reconstructions.png", nrow=8, sample_shape=sample_shape,
            title="data (left) and reconstruction (right), pairs",
        )
        generator = torch.Generator().manual_seed(0)
        images["media/samples"] = figures.save_image_grid(
            model.sample(NUM_IMAGES, generator=generator), run_dir / "samples.png", nrow=8,
            sample_shape=sample_shape, title="decoder means f(z), z ~ N(0, I)",
        )
    files.update({Path(p).stem: p for p in images.values()})
    media.log_media(
        loggers,
        images=images,
        tables={"collapse/curve": tables["collapse_curve"], f"{stage}/kl_dim": tables["kl_per_dim"]},
        step=step,
        plots={"collapse/curve_line": ("collapse/curve", "eps", "fraction_collapsed")},
    )
    media.log_histogram(loggers, f"{stage}/kl_dim_histogram", collapse.kl_dim, step=step)
    return files
