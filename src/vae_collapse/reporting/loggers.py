"""Experiment loggers: W&B (offline unless told otherwise) with a CSV logger beside it."""

from __future__ import annotations

import csv
import os
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from vae_collapse.config import build
from vae_collapse.reporting.atomic import atomic_open

WANDB_TARGET = "vae_collapse.reporting.wandb_logger.RunWandbLogger"


class _ContinuedCSVWriter(ExperimentWriter):
    """Lightning's CSV writer deletes the metrics.csv it finds. A run resumed in its own folder
    keeps the rows logged before its checkpoint's step instead, so the file holds the whole
    curve; the rows after it are logged again by the resumed run. The file is rewritten only
    at the first save, so a run refused before it logs anything leaves it as it was."""

    def __init__(self, log_dir: str, resume_step: int) -> None:
        self._resume_step = resume_step
        self._kept: list[dict[str, str]] | None = None
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not os.path.isfile(self.metrics_file_path):
            return
        with open(self.metrics_file_path, newline="") as handle:
            reader = csv.DictReader(handle)
            self._kept = [row for row in reader if _step(row) < self._resume_step]
            self.metrics_keys = sorted(reader.fieldnames or [])

    def save(self) -> None:
        if self._kept is not None and self.metrics:
            kept, self._kept = self._kept, None
            with atomic_open(self.metrics_file_path, newline="") as handle:  # a kill here keeps the old rows
                writer = csv.DictWriter(handle, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)
        super().save()


def _step(row: dict[str, str]) -> float:
    try:
        return float(row.get("step") or "inf")
    except ValueError:
        return float("inf")


def build_loggers(logger_cfg: DictConfig | None, group: str, run_name: str, run_id: str | None = None,
                  resume_step: int | None = None) -> list[Logger]:
    """One logger per entry of the ``logger`` group; W&B gets the run's group and name if unset.

    ``run_id`` is the W&B run id: a resumed run passes its checkpoint's, so W&B continues that run.
    ``resume_step`` is its checkpoint's step: a CSV log already in the folder keeps its rows before it.
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
        logger = build(node, f"logger.{key}")
        if resume_step is not None and isinstance(logger, CSVLogger) and rank_zero_only.rank == 0:
            os.makedirs(logger.root_dir, exist_ok=True)
            logger._experiment = _ContinuedCSVWriter(logger.log_dir, resume_step)  # Lightning makes it lazily
        loggers.append(logger)
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
