"""Figure 4: deep MLP VAE, one epoch of MNIST at batch 128, framework against a plain torch loop.

Same model (conf/model/deep_vae.yaml: 784-1024-512-32 and mirrored, learned sigma^2), same
data tensor, batch size and optimiser. The framework side is VAEModule in a Trainer built
from conf/ with the CSV logger and progress bar. Target: samples/s ratio >= 0.85.
"""

from __future__ import annotations

import copy

import torch

from benchmarks.common import Figure, Settings, interleaved, median, mnist_like, spread
from benchmarks.loops import TensorDataModule, framework_fit, plain_minibatch_fit, steady_rate

TARGET = 0.85
BATCH = 128


def run(settings: Settings) -> Figure:
    from vae_collapse.models import LearnedNoise, MLPVAE

    n_train, warmup = (640, 1) if settings.quick else (settings.deep_examples, 20)
    train, _, source = mnist_like(settings, n_train=n_train, n_test=1)
    steps = -(-len(train) // BATCH)
    torch.manual_seed(0)
    template = MLPVAE(784, (1, 28, 28), LearnedNoise(1.0), latent_dim=32, hidden=[1024, 512])

    def through_framework() -> float:
        dm = TensorDataModule(train, (1, 28, 28), batch_size=BATCH)
        out = framework_fit(copy.deepcopy(template), dm, 1e-3, -1, settings.work_dir / "fig4", max_epochs=1)
        if len(out["times"]) != steps:
            raise RuntimeError(f"the framework took {len(out['times'])} steps for one epoch, expected {steps}")
        return steady_rate(out["times"], warmup, per_step=BATCH)

    def plain() -> float:
        out = plain_minibatch_fit(copy.deepcopy(template), train, BATCH, 1e-3, steps)
        return steady_rate(out["times"], warmup, per_step=BATCH)

    rates = interleaved({"framework": through_framework, "plain": plain}, settings.repeats)
    value, baseline = median(rates["framework"]), median(rates["plain"])
    ratio = value / baseline
    return Figure(
        key="fig4", title="Deep MLP VAE samples/s, one epoch at batch 128, framework vs plain torch",
        value=value, baseline=baseline, unit="samples/s", ratio=ratio, ratio_meaning="framework / plain",
        target=f">= {TARGET}", met=ratio >= TARGET,
        details={"data": f"{source}, N={len(train)}", "steps_per_epoch": steps, "warmup_steps": warmup,
                 "framework": spread(rates["framework"]), "plain": spread(rates["plain"])},
    )
