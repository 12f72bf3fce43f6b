"""Full passes over a data split with the final parameters: the numbers a run reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from vae_collapse.maths.collapse import count_active_dims, count_active_units
from vae_collapse.models.vae import GaussianVAE


@dataclass
class Evaluation:
    """Averages over a split, plus the per-example KLs that the collapse metrics need."""

    stage: str
    metrics: dict[str, float]
    kl_per_dim: torch.Tensor  # (N, k)
    z_mean: torch.Tensor  # (N, k)


@torch.no_grad()
def evaluate(model: GaussianVAE, batches: Iterable[torch.Tensor], stage: str, step: int = 0) -> Evaluation:
    """Exact ELBO (analytic where the decoder allows it) and exact log p(x) where the model has it."""
    was_training = model.training
    model.eval()
    recon_sum = kl_sum = log_px_sum = 0.0
    has_log_px = True
    count = 0
    kls, means = [], []
    sigma2 = torch.tensor(float("nan"))
    for x in batches:
        terms = model(x, step=step, analytic=model.has_analytic_elbo or None)
        recon_sum += float(terms.recon.double().sum())
        kl_sum += float(terms.kl.double().sum())
        log_px = model.log_marginal(x)
        has_log_px = has_log_px and log_px is not None
        if has_log_px:
            log_px_sum += float(log_px.double().sum())
        kls.append(terms.kl_per_dim.cpu())
        means.append(terms.z_mean.cpu())
        sigma2 = terms.sigma2
        count += x.shape[0]
    model.train(was_training)
    if count == 0:
        raise ValueError(f"the {stage} split is empty")
    elbo = (recon_sum - kl_sum) / count
    metrics = {
        f"{stage}/elbo": elbo,
        f"{stage}/recon": recon_sum / count,
        f"{stage}/kl": kl_sum / count,
        f"{stage}/sigma2": float(sigma2),
    }
    if has_log_px:
        metrics[f"{stage}/log_px"] = log_px_sum / count
        metrics[f"{stage}/elbo_gap"] = log_px_sum / count - elbo
    return Evaluation(stage=stage, metrics=metrics, kl_per_dim=torch.cat(kls), z_mean=torch.cat(means))


def collapse_metrics(evaluation: Evaluation, eps: float, delta: float) -> dict[str, float]:
    """``collapse/*``: latents that are not (eps, delta)-collapsed, and active units."""
    return {
        "collapse/active_dims": count_active_dims(evaluation.kl_per_dim, eps, delta),
        "collapse/active_units": count_active_units(evaluation.z_mean),
        "collapse/latent_dim": evaluation.kl_per_dim.shape[1],
    }
