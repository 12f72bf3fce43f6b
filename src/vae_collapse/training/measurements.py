"""Everything measured once training ends: ELBOs, exact and IWAE log-likelihoods, collapse."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import Logger

from vae_collapse.maths import ppca
from vae_collapse.maths.identifiability import identifiability
from vae_collapse.models.vae import GaussianVAE
from vae_collapse.maths.residual import dims_above
from vae_collapse.training.evaluate import (
    evaluate, fit_noise_to_split, iwae_log_px, measure_collapse, residual_spectrum,
)


def _first(batches, limit: int | None) -> Iterator[torch.Tensor]:
    """At most ``limit`` examples from a stream of batches (None: all)."""
    seen = 0
    for x in batches:
        if limit is not None and seen >= limit:
            return
        x = x if limit is None else x[: limit - seen]
        seen += x.shape[0]
        yield x


# Importance samples times images from which the IWAE bound is announced: it can take longer than
# training (K = 100 on MNIST's 10,000 test images: about 40 s on two cores, after a 1-second run).
ANNOUNCE_IWAE_FROM = 100_000


def in_float64_where_exact(model: GaussianVAE) -> GaussianVAE:
    """A float64 copy of a model with a linear decoder, whose ELBO and log p(x) are exact: in float32
    their difference, a few 1e-4 nats at pPCA's optimum, rounds below zero (an ELBO above log p(x),
    an IWAE bound above it). A deep model, or one on a device without float64 (MPS), stays as it is."""
    import copy

    parameter = next(model.parameters(), None)
    if (not model.has_analytic_elbo or parameter is None or parameter.dtype == torch.float64
            or parameter.device.type == "mps"):
        return model
    return copy.deepcopy(model).double()


def _iwae_with_progress(model: GaussianVAE, batches, total: int, samples: int, step: int) -> float:
    """The IWAE bound with a bar over the images, at a terminal only; it moves with each chunk of
    samples, since one evaluation batch may be the whole test set. Off a terminal one line says
    what the wait is for, where it is long."""
    from tqdm.auto import tqdm

    from vae_collapse.reporting.console import say

    from lightning.pytorch.utilities import rank_zero_only

    # Under DDP every rank measures the same numbers: one says so.
    if samples * total >= ANNOUNCE_IWAE_FROM and not sys.stderr.isatty() and rank_zero_only.rank == 0:
        say(f"vae-collapse: measuring test/log_px_iwae with K={samples} on {total:,} test images "
            "(eval.iwae_samples=0 skips it, eval.iwae_examples=N takes the first N)")
    desc = f"test/log_px_iwae (K={samples})"
    with tqdm(total=total, desc=desc, unit="img", file=sys.stderr, disable=None, leave=False,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} [{elapsed}<{remaining}]") as bar:
        return iwae_log_px(model, batches, samples, step, progress=bar.update)


@dataclass(frozen=True)
class EvalSettings:
    """How a run is measured at the end (config group key ``eval``)."""

    eps: float = 0.01  # a latent is (eps, delta)-collapsed when its KL < eps ...
    delta: float = 0.01  # ... for at least a fraction 1 - delta of the examples
    eps_low: float = 1e-4  # the collapse curve's eps grid, log-spaced
    eps_high: float = 10.0
    eps_num: int = 41
    iwae_samples: int = 100  # K of test/log_px_iwae; 0 skips it
    iwae_examples: int | None = None  # first N test examples for the IWAE bound; None = all
    artifacts: bool = True  # CSVs and PNGs in the run directory, and W&B media
    track_every_n_steps: int = 0  # measure collapse during training this often; 0 = only at the end
    track_examples: int = 1000  # examples used for the measurements during training
    # Training examples for ppca/residual_dims: None = all of them, the data the ELBO was maximised
    # on (a subsample's largest covariance eigenvalues come out high); first N; 0 skips it.
    residual_examples: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.eps < math.inf:
            raise ValueError(f"eps={self.eps} must be > 0 and finite")
        if not 0 <= self.delta < 1:
            raise ValueError(f"delta={self.delta} must be in [0, 1)")
        if not math.isfinite(self.eps_high):
            raise ValueError(f"eps_high={self.eps_high} must be finite (the collapse curve's log-spaced grid ends there)")
        if not 0 < self.eps_low < self.eps_high:
            raise ValueError(f"eps_low={self.eps_low} must be > 0 and below eps_high={self.eps_high}")
        if self.eps_num < 2:
            raise ValueError(f"eps_num={self.eps_num} must be >= 2")
        if self.iwae_samples < 0:
            raise ValueError(f"iwae_samples={self.iwae_samples} must be >= 0")
        if self.track_every_n_steps < 0:
            raise ValueError(f"track_every_n_steps={self.track_every_n_steps} must be >= 0")
        if self.track_examples < 1:
            raise ValueError(f"track_examples={self.track_examples} must be >= 1")
        if self.residual_examples is not None and self.residual_examples < 0:
            raise ValueError(f"residual_examples={self.residual_examples} must be >= 0 or null")
        if self.iwae_examples is not None and self.iwae_examples < 1:
            raise ValueError(f"iwae_examples={self.iwae_examples} must be >= 1 or null")

    def eps_grid(self) -> torch.Tensor:
        return torch.logspace(math.log10(self.eps_low), math.log10(self.eps_high), self.eps_num, dtype=torch.float64)


# Widest data whose covariance eigenvectors are computed for the identifiability check alone:
# a fraction of a second at MNIST's 784 pixels, many minutes at CelebA's 12,288.
EIGENVECTOR_DIM_LIMIT = 4096


def has_linear_decoder(model) -> bool:
    W = getattr(getattr(model, "decoder", None), "W", None)
    return isinstance(W, torch.Tensor) and W.ndim == 2


def wants_eigenvectors(model, data_dim: int) -> bool:
    """Whether the final measurements should be given the training data's eigenvectors (``spec``)."""
    return has_linear_decoder(model) and data_dim <= EIGENVECTOR_DIM_LIMIT


def final_measurements(
    model: GaussianVAE, datamodule, eval_cfg: EvalSettings, run_dir: Path, loggers: list[Logger], step: int,
    eigvals: torch.Tensor | None = None, ppca_sigma2: float | None = None, spec: ppca.Spectrum | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Metrics of the final model on every split, and the files written for them.

    ``eigvals``: the training covariance's spectrum, where the caller has computed it already.
    ``ppca_sigma2``: the reference's sigma^2 (``ppca/sigma2``), drawn in ``spectrum.png``.
    ``spec``: the training covariance's eigenvectors too; with them a linear decoder's columns
    are checked against the principal directions (``train/aligned_columns`` and the rest).

    Collapse is measured on the validation split when there is one, else on the training data.
    A sigma^2 that follows the reconstructions (``noise=optimal``) is first fitted to the whole
    training split, and every split is scored at that value.
    """
    model = in_float64_where_exact(model)
    if model.noise.fitted_to_reconstructions:
        fit_noise_to_split(model, datamodule.eval_dataloader("train"))
    metrics: dict[str, Any] = {}
    train = evaluate(model, datamodule.eval_dataloader("train"), "train", step)
    metrics.update(train.metrics)
    # The schedules at the same step as train/sigma2 (and collapse_trajectory.csv's last row);
    # the value logged by the last training step is the one before.
    metrics["train/beta"] = model.noise.beta(step)
    if spec is not None and has_linear_decoder(model):
        metrics.update(identifiability(model.decoder.W, spec.eigvecs).metrics("train"))
    residual_eigvals = None
    if eval_cfg.residual_examples != 0:
        rows = len(datamodule.train_data)
        rows = rows if eval_cfg.residual_examples is None else min(rows, eval_cfg.residual_examples)
        batches = _first(datamodule.eval_dataloader("train"), eval_cfg.residual_examples)
        residual_eigvals = residual_spectrum(model, batches, rows, datamodule.data_dim)
        metrics["ppca/residual_dims"] = dims_above(residual_eigvals, metrics["train/sigma2"])
    collapse_split = train
    if datamodule.has_val:
        collapse_split = evaluate(model, datamodule.eval_dataloader("val"), "val", step)
        metrics.update(collapse_split.metrics)
        metrics["val/beta"] = metrics["train/beta"]  # val/* are the final model's too, not the last validation's
    collapse = measure_collapse(collapse_split, eval_cfg.eps, eval_cfg.delta, eval_cfg.eps_grid())
    metrics.update(collapse.metrics)
    if datamodule.has_test:
        metrics.update(evaluate(model, datamodule.eval_dataloader("test"), "test", step).metrics)
        if eval_cfg.iwae_samples > 0:
            batches = _first(datamodule.eval_dataloader("test"), eval_cfg.iwae_examples)
            examples = len(datamodule.split_data("test"))
            total = examples if eval_cfg.iwae_examples is None else min(examples, eval_cfg.iwae_examples)
            metrics["test/log_px_iwae"] = _iwae_with_progress(model, batches, total, eval_cfg.iwae_samples, step)
            # The bound may cover fewer images than test/elbo: say how many, so the two are compared fairly.
            metrics["test/iwae_examples"] = total
    files: dict[str, Path] = {}
    if eval_cfg.artifacts:
        from vae_collapse.reporting.artifacts import write_run_artifacts, write_spectrum_artifacts

        examples = datamodule.split_data(collapse_split.stage)
        files = write_run_artifacts(
            run_dir, collapse_split.stage, collapse, model, examples, datamodule.sample_shape,
            eval_cfg.eps, eval_cfg.delta, loggers, step,
        )
        files.update(write_spectrum_artifacts(run_dir, datamodule.train_data, model, eigvals, residual_eigvals,
                                              metrics["train/sigma2"], loggers, step, ppca_sigma2))
    return metrics, files
