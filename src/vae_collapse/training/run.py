"""One experiment, end to end: validate, build, fit, evaluate, report."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from vae_collapse.config import build, check_node
from vae_collapse.maths.moments import data_moments
from vae_collapse.reporting.loggers import build_loggers, finish_loggers, log_config
from vae_collapse.reporting.summary import write_summary
from vae_collapse.reporting.table import result_table
from vae_collapse.training.measurements import final_measurements
from vae_collapse.training.collapse_tracker import CollapseTracker
from vae_collapse.training.lit_module import VAEModule
from vae_collapse.training.progress import StepProgressBar
from vae_collapse.training.reference import ppca_reference

# Built in this order; each is checked before anything is built, so a bad value anywhere
# fails before a data set is fetched or a step is taken.
GROUPS = (
    ("dataset", ()),
    ("noise", ()),
    ("model", ("data_dim", "sample_shape", "noise")),
    ("optimizer", ()),
    ("lr_scheduler", ()),
    ("trainer", ("logger", "callbacks", "default_root_dir")),
    ("eval", ()),
)


def _run_identity(cfg: DictConfig, run_dir: Path) -> tuple[str, str]:
    """W&B group and run name: per experiment, or per sweep in a multirun."""
    name = cfg.name
    try:
        hydra_cfg = HydraConfig.get()
    except ValueError:  # called outside a Hydra app (tests, notebooks)
        return name, run_dir.name
    if hydra_cfg.mode == RunMode.MULTIRUN:
        sweep = Path(hydra_cfg.sweep.dir).name
        overrides = hydra_cfg.job.override_dirname or str(hydra_cfg.job.num)
        return f"{name}-{sweep}", f"{hydra_cfg.job.num}-{overrides}"
    return name, run_dir.name


def validate(cfg: DictConfig) -> None:
    for group, supplied in GROUPS:
        node = cfg.get(group)
        if node is not None:
            check_node(node, group, supplied)


def _quiet_known_warnings() -> None:
    """Warnings that are expected here and would only bury the run's own output."""
    for pattern in (
        r".*IterableDataset.*has `__len__` defined.*",  # our in-memory batches know their length
        r".*number of training batches .* is smaller than the logging interval.*",  # full batch: 1 per epoch
        r".*Total length of .* across ranks is zero.*",  # no validation split configured
        r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",  # inside Lightning 2.6 with torch 2.13
        r".*does not have many workers which may be a bottleneck.*",  # in-memory tensors need no workers
    ):
        warnings.filterwarnings("ignore", message=pattern)


def run_experiment(cfg: DictConfig) -> dict[str, Any]:
    """Train and evaluate one configuration; returns the final metrics (also in summary.json)."""
    started = time.time()
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    validate(cfg)
    _quiet_known_warnings()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = build(cfg.dataset, "dataset")
    noise = build(cfg.noise, "noise")
    model = build(cfg.model, "model", data_dim=datamodule.data_dim, sample_shape=datamodule.sample_shape, noise=noise)
    optimizer = build(cfg.optimizer, "optimizer")
    scheduler = build(cfg.lr_scheduler, "lr_scheduler") if cfg.get("lr_scheduler") else None
    eval_settings = build(cfg.eval, "eval")
    datamodule.prepare_data()
    datamodule.setup("fit")

    moments = data_moments(datamodule.train_data)
    metrics: dict[str, Any] = {}
    group, run_name = _run_identity(cfg, run_dir)
    loggers = build_loggers(cfg.get("logger"), group, run_name)
    status, reason = "failed", None
    files: dict[str, Path] = {}
    try:
        log_config(loggers, resolved)
        reference = ppca_reference(moments, model.latent_dim, noise)
        for logger in loggers:  # at step 0 too, so dashboards draw it as a line under train/elbo
            logger.log_metrics(reference, step=0)
        callbacks: list = [StepProgressBar()] if cfg.trainer.get("enable_progress_bar", True) else []
        if eval_settings.track_every_n_steps:
            callbacks.append(CollapseTracker(eval_settings.track_every_n_steps, eval_settings.eps, eval_settings.delta,
                                             eval_settings.track_examples, run_dir / "collapse_trajectory.csv"))
        trainer = build(cfg.trainer, "trainer", logger=loggers or False, callbacks=callbacks, default_root_dir=str(run_dir))
        if getattr(model, "fit", "gradient") == "closed_form":
            model.fit_closed_form(moments)
        else:
            trainer.fit(VAEModule(model, optimizer, scheduler), datamodule=datamodule)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if "/" in k})
        metrics.update(reference)
        final, files = final_measurements(model, datamodule, eval_settings, run_dir, loggers, trainer.global_step)
        metrics.update(final)
        for logger in loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        status = "completed"
    except KeyboardInterrupt:
        status, reason = "interrupted", "KeyboardInterrupt"
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise
    finally:
        metrics["time/seconds"] = round(time.time() - started, 3)
        summary = write_summary(run_dir, status, metrics, resolved, reason=reason, run_dir=str(run_dir))
        finish_loggers(loggers, status)
    files = {"run directory": run_dir, "summary": summary, **files}
    wandb_dir = run_dir / "wandb"
    if wandb_dir.exists():
        files["W&B (offline)"] = wandb_dir
    print(result_table(metrics, status, files), flush=True)
    return metrics
