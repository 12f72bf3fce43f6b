"""Experiment loggers: W&B (offline unless told otherwise) with a CSV logger beside it."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from vae_collapse.config import build

WANDB_TARGET = "vae_collapse.reporting.wandb_logger.RunWandbLogger"


def build_loggers(logger_cfg: DictConfig | None, group: str, run_name: str, run_id: str | None = None) -> list[Logger]:
    """One logger per entry of the ``logger`` group; W&B gets the run's group and name if unset.

    ``run_id`` is the W&B run id: a resumed run passes its checkpoint's, so W&B continues that run.
    """
    loggers: list[Logger] = []
    for key, node in (logger_cfg or {}).items():
        if node is None:
            continue
        node = node.copy()
        if node.get("_target_") == WANDB_TARGET:
            OmegaConf.set_struct(node, False)
            node.group = node.get("group") or group
            node.name = node.get("name") or run_name
            if run_id and not node.get("id"):
                node.id = run_id
        loggers.append(build(node, f"logger.{key}"))
    return loggers


def log_config(loggers: list[Logger], config: dict[str, Any]) -> None:
    for logger in loggers:
        logger.log_hyperparams(config)


def finish_loggers(loggers: list[Logger], status: str, reason: str | None = None) -> None:
    """Close every logger; W&B needs an explicit finish or the next job of a multirun logs into this run.

    The W&B run's summary gets ``status`` and ``reason`` as summary.json has them: W&B's own exit
    code tells a failed run from a diverged or an interrupted one no better than 0 or 1.
    """
    for logger in loggers:
        logger.finalize("success" if status == "completed" else "failed")
    if any(isinstance(lg, WandbLogger) for lg in loggers):
        import wandb  # imported here: runs without W&B never pay for it

        if wandb.run is not None:
            wandb.run.summary.update({"status": status, "reason": reason or ""})
        wandb.finish(exit_code=0 if status == "completed" else 1)
