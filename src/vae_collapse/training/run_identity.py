"""A run's W&B group and name: per experiment, or per sweep in a multirun.

A sweep's jobs share the group ``<name>-<sweep folder>``; each job is named by its folder in the
sweep, the values the sweep varies (``noise.sigma2=1.0,seed=0``, vae_collapse.training.sweep_jobs).
The overrides every job shares are in the W&B config (``overrides``). A job of another sweeper
(Optuna, whose folders are numbered) is named by its number and all its overrides.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from vae_collapse.training.sweep_jobs import folder_name, is_basic_sweep


def run_identity(cfg: DictConfig, run_dir: Path) -> tuple[str, str]:
    """(group, name) for the loggers."""
    name = cfg.name
    try:
        hydra_cfg = HydraConfig.get()
    except ValueError:  # called outside a Hydra app (tests, notebooks)
        return name, run_dir.name
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return name, run_dir.name
    group = f"{name}-{Path(hydra_cfg.sweep.dir).name}"
    if is_basic_sweep(hydra_cfg):
        return group, folder_name(hydra_cfg)
    return group, f"{hydra_cfg.job.num}-{hydra_cfg.job.override_dirname or hydra_cfg.job.num}"
