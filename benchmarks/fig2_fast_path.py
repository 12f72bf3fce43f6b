"""Figure 2: the sufficient-statistics ELBO against the per-example ELBO at N = 60,000, k = 200.

Timed: one full-batch gradient (forward and backward) each way, float32 as in training.
Checked: the ELBO and every gradient agree in float64 (the per-example side accumulated in
chunks of 10,000 so that the check fits in memory).
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import Figure, Settings, interleaved, median, mnist_like, spread


def _gradient_seconds(model, loss_fn) -> float:
    model.zero_grad(set_to_none=True)
    started = time.perf_counter()
    loss_fn().backward()
    return time.perf_counter() - started


def _max_relative_difference(model, x: torch.Tensor, moments) -> dict[str, float]:
    """ELBO and gradients of both paths in float64: the largest relative difference of each."""

    model = model.double()
    model.zero_grad(set_to_none=True)
    recon, kl, sigma2 = model.elbo_from_moments(moments)
    fast_elbo = (recon - kl).detach()
    (kl - recon).backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    elbo_sum = 0.0
    for start in range(0, len(x), 10000):
        chunk = x[start : start + 10000].double()
        terms = model(chunk)
        total = (terms.recon - terms.kl).sum()
        elbo_sum += float(total.detach())
        (-total / len(x)).backward()
    slow_grads = [p.grad for p in model.parameters()]
    slow_elbo = elbo_sum / len(x)
    grad_diff = max(float((a - b).abs().max() / b.abs().max().clamp_min(1e-300)) for a, b in zip(fast_grads, slow_grads))
    return {"elbo_fast": float(fast_elbo), "elbo_per_example": slow_elbo,
            "elbo_relative_difference": abs(float(fast_elbo) - slow_elbo) / abs(slow_elbo),
            "gradient_max_relative_difference": grad_diff}


def run(settings: Settings) -> Figure:
    from vae_collapse.maths.moments import DataMoments, data_moments
    from vae_collapse.models import LearnedNoise, LinearVAE

    n_train = 2000 if settings.quick else 60000
    train, _, source = mnist_like(settings, n_train=n_train, n_test=1)
    torch.manual_seed(0)
    model = LinearVAE(784, 200, LearnedNoise(1.0))
    exact = data_moments(train)
    moments32 = DataMoments(exact.mean.float(), exact.cov.float(), exact.num_examples)

    def fast() -> float:
        def loss():
            recon, kl, _ = model.elbo_from_moments(moments32)
            return kl - recon
        return _gradient_seconds(model, loss)

    def per_example() -> float:
        def loss():
            terms = model(train)
            return terms.kl.mean() - terms.recon.mean()
        return _gradient_seconds(model, loss)

    times = interleaved({"fast": fast, "per_example": per_example}, settings.repeats)
    moments_started = time.perf_counter()
    data_moments(train)
    moments_seconds = time.perf_counter() - moments_started
    check = _max_relative_difference(model, train, exact)
    value, baseline = median(times["fast"]), median(times["per_example"])
    identical = check["elbo_relative_difference"] < 1e-10 and check["gradient_max_relative_difference"] < 1e-8
    return Figure(
        key="fig2", title=f"Sufficient-statistics vs per-example ELBO gradient (N={len(train)}, k=200)",
        value=value, baseline=baseline, unit="s/step", ratio=baseline / value, ratio_meaning="speed-up (per-example / fast)",
        target="speed-up reported; identical values (float64)", met=identical,
        details={"data": source, "fast": spread(times["fast"]), "per_example": spread(times["per_example"]),
                 "moments_once_s": moments_seconds, **check},
    )
