"""Figure 1: full-batch linear VAE steps through the framework against a plain torch loop.

Same model class, same maths (the sufficient-statistics path on both sides), same data and
optimiser; the framework side is VAEModule in a Trainer built from conf/ with the CSV logger
and the progress bar, as a user's run has them. Target: throughput ratio >= 0.9.
"""

from __future__ import annotations

import copy

import torch

from benchmarks.common import Figure, Settings, interleaved, median, mnist_like, spread
from benchmarks.loops import TensorDataModule, framework_fit, plain_linear_fit, steady_rate

TARGET = 0.9


def run(settings: Settings) -> Figure:
    from vae_collapse.models import LearnedNoise, LinearVAE

    steps, warmup = (8, 2) if settings.quick else (400, 50)
    n_train = 500 if settings.quick else 60000
    train, _, source = mnist_like(settings, n_train=n_train, n_test=1)
    torch.manual_seed(0)
    template = LinearVAE(784, 200, LearnedNoise(1.0))
    extra: dict[str, list[float]] = {"framework_to_first_step": [], "plain_to_first_step": []}

    def through_framework() -> float:
        dm = TensorDataModule(train, (1, 28, 28), batch_size=None)
        out = framework_fit(copy.deepcopy(template), dm, 1e-3, steps, settings.work_dir / "fig1")
        if not out["used_moments"]:
            raise RuntimeError("the framework did not take the sufficient-statistics path")
        extra["framework_to_first_step"].append(out["to_first_step"])
        return steady_rate(out["times"], warmup)

    def plain() -> float:
        out = plain_linear_fit(copy.deepcopy(template), train, 1e-3, steps)
        extra["plain_to_first_step"].append(out["to_first_step"])
        return steady_rate(out["times"], warmup)

    rates = interleaved({"framework": through_framework, "plain": plain}, settings.repeats)
    value, baseline = median(rates["framework"]), median(rates["plain"])
    ratio = value / baseline
    return Figure(
        key="fig1", title="Linear VAE steps/s, framework vs plain torch (full batch, k=200)",
        value=value, baseline=baseline, unit="steps/s", ratio=ratio, ratio_meaning="framework / plain",
        target=f">= {TARGET}", met=ratio >= TARGET,
        details={"data": f"{source}, N={len(train)}", "steps_per_repeat": steps, "warmup_steps": warmup,
                 "framework": spread(rates["framework"]), "plain": spread(rates["plain"]),
                 "framework_to_first_step_s": median(extra["framework_to_first_step"]),
                 "plain_to_first_step_s": median(extra["plain_to_first_step"])},
    )
