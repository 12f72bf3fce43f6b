"""Files a run leaves beside summary.json (CSVs and PNGs), mirrored to W&B when it is active.

W&B keys use the metric-name API: ``collapse/curve``, ``<stage>/kl_dim``, ``media/...``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from lightning.pytorch.loggers import Logger

from vae_collapse.models.vae import GaussianVAE
from vae_collapse.training.evaluate import Collapse
from vae_collapse.reporting.atomic import atomic_open

NUM_IMAGES = 32
# The data spectrum is written only up to this many pixels: MNIST's 784 costs well under a
# second, CelebA's 12,288 would need a 1.2 GB covariance and minutes of eigh for a file the
# report only uses to draw the linear theory.
MAX_SPECTRUM_DIM = 4096
# Rows of a spectrum sent to W&B as a table (the CSV keeps all): far past any sigma^2 crossing.
MAX_WANDB_ROWS = 1000


NOISE_WORDS = {"FixedNoise": "fixed", "LearnedNoise": "learned", "AnnealedNoise": "annealed", "KLAnnealing": "KL warm-up",
               "OptimalNoise": "optimal"}


def run_context(model: GaussianVAE, step: int) -> str:
    """What a run's own figure shows, in a few words: "σ² = 1 (fixed), k = 32, step 8000"."""
    noise = model.noise
    cls = type(noise).__name__
    kind = NOISE_WORDS.get(cls, cls)
    if isinstance(getattr(noise, "base", None), torch.nn.Module) and noise.learned:
        kind += ", learned σ²"  # a KL warm-up over a learned base
    sigma2 = float(noise.sigma2(step).detach())
    return f"σ² = {sigma2:.4g} ({kind}), k = {model.latent_dim}, step {step}"


def write_csv_atomic(path: Path, header: list[str], rows: list[list]) -> Path:
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def collapse_tables(collapse: Collapse) -> dict[str, tuple[list[str], list[list]]]:
    curve = [[float(e), float(f)] for e, f in zip(collapse.eps_grid, collapse.collapsed_fraction)]
    # "collapsed" is the (eps, delta) test on per-example KLs, the one collapse/active_dims counts;
    # a latent's mean KL can sit on either side of eps whatever that verdict is.
    dims = [[i, float(v), bool(c)] for i, (v, c) in enumerate(zip(collapse.kl_dim, collapse.collapsed))]
    return {
        "collapse_curve": (["eps", "collapsed_fraction"], curve),
        "kl_per_dim": (["dim", "mean_kl", "collapsed"], dims),
    }


def spectrum_tables(
    train_data: torch.Tensor, model: GaussianVAE, eigvals: torch.Tensor | None = None
) -> dict[str, tuple[list[str], list[list]]]:
    """The training data's covariance spectrum and, for a linear decoder, its squared column norms.

    Together they are the paper's spectrum figure: at the optimum ||w_i||^2 = max(lambda_i - sigma^2, 0).
    Eigenvalues are numbered from 1 (lambda_1 the largest), columns in the model's own order.
    ``eigvals``: the spectrum where the caller has it already (the run computes it for ppca/*).
    """
    from vae_collapse.maths.moments import covariance_eigenvalues

    tables: dict[str, tuple[list[str], list[list]]] = {}
    flat = train_data.reshape(train_data.shape[0], -1)
    if flat.shape[1] <= MAX_SPECTRUM_DIM:
        eigvals = covariance_eigenvalues(flat) if eigvals is None else eigvals
        tables["data_spectrum"] = (["index", "eigenvalue"], [[i + 1, float(v)] for i, v in enumerate(eigvals)])
    W = getattr(getattr(model, "decoder", None), "W", None)
    if isinstance(W, torch.Tensor) and W.ndim == 2:
        norms = W.detach().double().square().sum(0)
        tables["decoder_column_norms"] = (["column", "norm2"], [[j, float(v)] for j, v in enumerate(norms)])
    return tables


def write_spectrum_artifacts(
    run_dir: Path,
    train_data: torch.Tensor,
    model: GaussianVAE,
    eigvals: torch.Tensor | None = None,
    residual_eigvals: torch.Tensor | None = None,
    sigma2: float | None = None,
    loggers: list[Logger] = (),
    step: int = 0,
    ppca_sigma2: float | None = None,
) -> dict[str, Path]:
    """``data_spectrum.csv`` and (linear decoders) ``decoder_column_norms.csv`` in ``run_dir``.

    With the residual's spectrum (``ppca/residual_dims``) also ``residual_spectrum.csv``, and with
    sigma^2 ``spectrum.png``: both spectra against the sigma^2 line (W&B: ``media/spectrum``).
    W&B gets each CSV as the table ``ppca/<file name>``, its first MAX_WANDB_ROWS rows.
    """
    from vae_collapse.reporting import figures, media

    tables = spectrum_tables(train_data, model, eigvals)
    if residual_eigvals is not None:
        tables["residual_spectrum"] = (["index", "eigenvalue"], [[i + 1, float(v)] for i, v in enumerate(residual_eigvals)])
    files = {name: write_csv_atomic(run_dir / f"{name}.csv", *table) for name, table in tables.items()}
    # The same tables in W&B, under the ppca/ prefix of the measurements they back; the largest
    # eigenvalues only, as W&B keeps at most 10,000 rows of a table (CelebA has 12,288 pixels).
    media.log_media(loggers, tables={f"ppca/{name}": (columns, rows[:MAX_WANDB_ROWS])
                                     for name, (columns, rows) in tables.items()}, step=step)
    if residual_eigvals is not None and sigma2 is not None:
        spectra = {}
        if "data_spectrum" in tables:
            spectra["data covariance"] = [row[1] for row in tables["data_spectrum"][1]]
        spectra["residual x - f(E[z|x])"] = residual_eigvals
        files["spectrum"] = figures.save_spectrum_chart(
            spectra, sigma2, run_dir / "spectrum.png", reference_sigma2=ppca_sigma2,
            title="The linear theory's test: one more latent pays for its KL\n"
                  "along each direction whose eigenvalue is above $\\sigma^2$\n"
                  f"(training split; {run_context(model, step)})",
        )
        media.log_media(loggers, images={"media/spectrum": files["spectrum"]}, step=step)
    return files


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

    where = run_context(model, step)
    tables = collapse_tables(collapse)
    files = {name: write_csv_atomic(run_dir / f"{name}.csv", *table) for name, table in tables.items()}
    images: dict[str, Path] = {}
    images["collapse/curve_plot"] = figures.save_collapse_curve(
        collapse.eps_grid, collapse.collapsed_fraction, run_dir / "collapse_curve.png", delta=delta,
        title=f"(eps, {delta})-collapse on the {stage} split; {where}",
    )
    images[f"{stage}/kl_dim_chart"] = figures.save_kl_per_dim_chart(
        collapse.kl_dim, run_dir / "kl_per_dim.png", eps=eps, title=f"Mean KL per latent dimension ({stage} split; {where})",
        collapsed=collapse.collapsed, delta=delta,
    )
    is_image = len(sample_shape) == 3
    if is_image:
        shown = examples[:NUM_IMAGES]
        with torch.no_grad():
            recon = model.reconstruct(model.as_input(shown)).to(shown)
        pairs = torch.stack([shown, recon], dim=1).reshape(-1, shown.shape[1])
        images["media/reconstructions"] = figures.save_image_grid(
            pairs, run_dir / "reconstructions.png", nrow=8, sample_shape=sample_shape,
            title=f"data (left) and reconstruction (right), pairs\n{where}",
        )
        generator = torch.Generator().manual_seed(0)
        images["media/samples"] = figures.save_image_grid(
            model.sample(NUM_IMAGES, generator=generator).float().cpu(), run_dir / "samples.png", nrow=8,
            sample_shape=sample_shape, title=f"decoder means f(z), z ~ N(0, I)\n{where}",
        )
    for path in images.values():  # collapse_curve.png beside collapse_curve.csv: both are listed
        stem = Path(path).stem
        files[f"{stem} figure" if stem in files else stem] = path
    media.log_media(
        loggers,
        images=images,
        tables={"collapse/curve": tables["collapse_curve"], f"{stage}/kl_dim": tables["kl_per_dim"]},
        step=step,
        plots={"collapse/curve_line": ("collapse/curve", "eps", "collapsed_fraction")},
    )
    media.log_histogram(loggers, f"{stage}/kl_dim_histogram", collapse.kl_dim, step=step)
    return files
