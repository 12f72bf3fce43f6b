"""The two ways of training that figures 1 and 4 compare: the framework and a plain torch loop.

Both record a timestamp after every optimiser step, so throughput is measured over the same
steady-state window (after ``warmup`` steps) on both sides; what happens before the first
step (building the Trainer, the data moments) is reported apart as a fixed cost.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from benchmarks.common import ROOT
from vae_collapse.data import InMemoryDataModule, Splits


class TensorDataModule(InMemoryDataModule):
    """The framework's in-memory data module around tensors already loaded (so both sides share them)."""

    def __init__(self, train: torch.Tensor, sample_shape: tuple[int, ...], batch_size: int | None, seed: int = 0):
        super().__init__(batch_size=batch_size, shuffle=True, seed=seed)
        self._train = train
        self.known_sample_shape = sample_shape

    def _load(self) -> Splits:
        return Splits(train=self._train, val=None, test=None, sample_shape=self.known_sample_shape)


def compose_config(*overrides: str, output_dir: Path):
    """The real conf/ composed as the console script would, outside a Hydra app."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose(config_name="config", overrides=[f"paths.output_dir={output_dir}", *overrides])
    finally:
        GlobalHydra.instance().clear()


class StepClock(pl.Callback):
    """perf_counter after every training batch (the optimiser step has run by then)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter())


def steady_rate(times: list[float], warmup: int, per_step: float = 1.0) -> float:
    """Steps (times ``per_step``, e.g. samples) per second after the first ``warmup`` steps."""
    if len(times) <= warmup + 1:
        raise ValueError(f"need more than {warmup + 1} steps, got {len(times)}")
    return (len(times) - 1 - warmup) * per_step / (times[-1] - times[warmup])


def framework_fit(model, datamodule, lr: float, max_steps: int, work_dir: Path, max_epochs: int = -1) -> dict:
    """Train through VAEModule and a Trainer built from conf/ (trainer=cpu, logger=csv, progress bar on).

    Returns the step timestamps and the seconds from ``fit`` to the first step.
    """
    from vae_collapse.config import build
    from vae_collapse.reporting.loggers import build_loggers
    from vae_collapse.training.lit_module import VAEModule
    from vae_collapse.training.progress import StepProgressBar
    from vae_collapse.training.run import quiet_known_warnings

    quiet_known_warnings()
    cfg = compose_config("logger=csv", f"trainer.max_steps={max_steps}", f"trainer.max_epochs={max_epochs}",
                         output_dir=work_dir)
    loggers = build_loggers(cfg.logger, "bench", "bench")
    clock = StepClock()
    # No checkpoints: Lightning's default ModelCheckpoint would save at every epoch end, which at full
    # batch is every step; a run saves every checkpoint.every_n_steps (500) steps.
    trainer = build(cfg.trainer, "trainer", logger=loggers, callbacks=[StepProgressBar(), clock],
                    default_root_dir=str(work_dir), enable_checkpointing=False)
    module = VAEModule(model, functools.partial(torch.optim.Adam, lr=lr))
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    ended = time.perf_counter()
    return {"times": clock.times, "to_first_step": clock.times[0] - started, "fit_seconds": ended - started,
            "used_moments": module.train_moments is not None}


def plain_linear_fit(model, train: torch.Tensor, lr: float, max_steps: int) -> dict:
    """The floor for full-batch linear training: moments once, then Adam on the exact ELBO."""
    from vae_collapse.maths.moments import DataMoments, data_moments

    started = time.perf_counter()
    moments = data_moments(train)
    dtype = next(model.parameters()).dtype
    moments = DataMoments(mean=moments.mean.to(dtype), cov=moments.cov.to(dtype), num_examples=moments.num_examples)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    times = []
    for step in range(max_steps):
        optimizer.zero_grad(set_to_none=True)
        recon, kl, _ = model.elbo_from_moments(moments, step=step)
        loss = kl - recon
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter())
    return {"times": times, "to_first_step": times[0] - started, "fit_seconds": times[-1] - started}


def plain_minibatch_fit(model, train: torch.Tensor, batch_size: int, lr: float, max_steps: int, seed: int = 0) -> dict:
    """The floor for minibatch training: shuffled slices of one tensor, the model's own ELBO, Adam."""
    started = time.perf_counter()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    times: list[float] = []
    step = 0
    while step < max_steps:
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), batch_size):
            x = train.index_select(0, order[start : start + batch_size])
            optimizer.zero_grad(set_to_none=True)
            terms = model(x, step=step)
            loss = -(terms.recon.mean() - terms.kl.mean())
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter())
            step += 1
            if step >= max_steps:
                break
    return {"times": times, "to_first_step": times[0] - started, "fit_seconds": times[-1] - started}
