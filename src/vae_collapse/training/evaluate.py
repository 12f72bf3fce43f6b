"""Full passes over a data split with the final parameters: the numbers a run reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any
from dataclasses import dataclass

import torch

from vae_collapse.maths.collapse import collapse_curve, collapsed_dims, count_active_dims, count_active_units
from vae_collapse.maths.iwae import iwae_bound, merge_iwae
from vae_collapse.maths.moments import StreamingMoments, covariance_eigenvalues
from vae_collapse.maths.precision import plain_float
from vae_collapse.models.vae import GaussianVAE


@dataclass
class Evaluation:
    """Averages over a split, plus the per-example KLs that the collapse metrics need."""

    stage: str
    metrics: dict[str, float]
    kl_per_dim: torch.Tensor  # (N, k)
    z_mean: torch.Tensor  # (N, k)


@dataclass
class Collapse:
    """Collapse measurements of one split: summary numbers, the eps curve and mean KL per dimension."""

    metrics: dict[str, float]
    eps_grid: torch.Tensor
    collapsed_fraction: torch.Tensor
    kl_dim: torch.Tensor  # (k,) mean KL per latent dimension
    collapsed: torch.Tensor  # (k,) bool: the (eps, delta) verdict per dimension, from per-example KLs


def _on_model(model: GaussianVAE, batches: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
    return (model.as_input(x) for x in batches)


class _EvalMode:
    """Evaluation mode for the duration of a pass, restored afterwards."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


@torch.no_grad()
def evaluate(model: GaussianVAE, batches: Iterable[torch.Tensor], stage: str, step: int = 0) -> Evaluation:
    """The ELBO over every batch, and log p(x) where the model has it in closed form.

    Exact (analytic) for the linear models; for deep VAEs the KL is exact and the reconstruction
    term is one reparameterised sample per example, so it draws from torch's global RNG.
    """
    recon_sum = kl_sum = log_px_sum = 0.0
    has_log_px = True
    count = 0
    kls, means = [], []
    sigma2 = torch.tensor(float("nan"))
    with _EvalMode(model):
        for x in _on_model(model, batches):
            terms = model(x, step=step, analytic=model.has_analytic_elbo or None)
            recon_sum += float(terms.recon.double().sum())
            kl_sum += float(terms.kl.double().sum())
            log_px = model.log_marginal(x, step)
            has_log_px = has_log_px and log_px is not None
            if has_log_px:
                log_px_sum += float(log_px.double().sum())
            kls.append(terms.kl_per_dim.cpu())
            means.append(terms.z_mean.cpu())
            sigma2 = terms.sigma2
            count += x.shape[0]
    if count == 0:
        raise ValueError(f"the {stage} split is empty")
    elbo = (recon_sum - kl_sum) / count
    metrics = {
        f"{stage}/elbo": elbo,
        f"{stage}/recon": recon_sum / count,
        f"{stage}/kl": kl_sum / count,
        f"{stage}/sigma2": plain_float(sigma2),
    }
    if has_log_px:
        metrics[f"{stage}/log_px"] = log_px_sum / count
        metrics[f"{stage}/elbo_gap"] = log_px_sum / count - elbo
    return Evaluation(stage=stage, metrics=metrics, kl_per_dim=torch.cat(kls), z_mean=torch.cat(means))


@torch.no_grad()
def fit_noise_to_split(model: GaussianVAE, batches: Iterable[torch.Tensor]) -> None:
    """Fit a sigma^2 that follows the reconstructions (``noise=optimal``) to a whole split.

    Training leaves it at the last mini-batch's value, which may be a remainder of a few
    examples: the final numbers are scored at the split's maximiser instead, with the squared
    error taken as :func:`evaluate` takes it: exact for a linear decoder; for a deep one a
    one-sample estimate, drawn apart from evaluate's own sample, so there it is the maximiser
    up to that Monte Carlo error.
    """
    total, count, dim = 0.0, 0, 0
    with _EvalMode(model):
        for x in _on_model(model, batches):
            z_mean, z_var = model.encoder(x)
            sq_err = model.squared_error(x, z_mean, z_var.expand_as(z_mean), model.has_analytic_elbo or None)
            total += float(sq_err.double().sum())
            count, dim = count + x.shape[0], x.shape[-1]
    if count == 0:
        raise ValueError("the split to fit sigma^2 to is empty")
    model.noise.fit_to(total / count, dim)


def measure_collapse(evaluation: Evaluation, eps: float, delta: float, eps_grid: torch.Tensor) -> Collapse:
    """``collapse/*``: latents that are not (eps, delta)-collapsed, active units, and the eps curve."""
    kl = evaluation.kl_per_dim
    metrics = {
        "collapse/active_dims": count_active_dims(kl, eps, delta),
        "collapse/active_units": count_active_units(evaluation.z_mean),
        "collapse/latent_dim": kl.shape[1],
    }
    metrics["collapse/collapsed_fraction"] = 1.0 - metrics["collapse/active_dims"] / kl.shape[1]
    return Collapse(
        metrics=metrics,
        eps_grid=eps_grid,
        collapsed_fraction=collapse_curve(kl, eps_grid, delta),
        kl_dim=kl.double().mean(0),
        collapsed=collapsed_dims(kl, eps, delta),
    )


@torch.no_grad()
def residual_spectrum(model: GaussianVAE, batches: Iterable[torch.Tensor], num_rows: int, dim: int) -> torch.Tensor:
    """Eigenvalues of the 1/N covariance of x - f(E_q[z | x]) over ``batches``, decreasing.

    What the model leaves unexplained, for the linear theory's test in
    :mod:`vae_collapse.maths.residual`. With at least as many rows as pixels (MNIST) the n x n
    covariance is summed batch by batch in float64 and no residual is kept; with fewer (CelebA
    subsets) the residuals are kept in float32 and go through the N x N Gram matrix.
    """
    with _EvalMode(model):
        if num_rows < dim:
            parts = [(x - model.reconstruct(x)).reshape(x.shape[0], -1).float().cpu()
                     for x in _on_model(model, batches)]
            if not parts:
                raise ValueError("no examples for the residual spectrum")
            return covariance_eigenvalues(torch.cat(parts))
        moments = StreamingMoments(dim)
        for x in _on_model(model, batches):
            moments.add((x - model.reconstruct(x)).reshape(x.shape[0], -1))
        return moments.eigenvalues()


# Samples x examples x width held at once while estimating the IWAE bound (~80 MB of float32).
_IWAE_ELEMENTS = 20_000_000


@torch.no_grad()
def iwae_log_px(model: GaussianVAE, batches: Iterable[torch.Tensor], num_samples: int, step: int = 0,
                progress: Callable[[float], Any] | None = None) -> float:
    """Average IWAE bound with ``num_samples`` importance samples per example.

    Each batch is encoded once; its samples are drawn in chunks as large as the memory budget
    allows, and the chunks' bounds are merged exactly (see ``merge_iwae``). ``progress`` is told
    the examples done after each chunk, in fractions of the batch.
    """
    total, count = 0.0, 0
    with _EvalMode(model):
        for x in _on_model(model, batches):
            posterior = model.encoder(x)
            # The budget is in float32 elements: a float64 model (measurements.in_float64_where_exact) takes half.
            chunk = max(1, _IWAE_ELEMENTS * 4 // x.element_size() // (x.shape[0] * max(x.shape[1], 1024)))
            bounds, counts = [], []
            for start in range(0, num_samples, chunk):
                k = min(chunk, num_samples - start)
                bounds.append(iwae_bound(model.log_joint_over_q(x, k, step, posterior=posterior)))
                counts.append(k)
                if progress is not None:
                    progress(x.shape[0] * k / num_samples)
            total += float(merge_iwae(bounds, counts).double().sum())
            count += x.shape[0]
    return total / count
