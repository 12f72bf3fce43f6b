"""The report's figures and tables in a W&B run of the runs' group (offline unless told otherwise)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vae_collapse.report.describe import policy
from vae_collapse.report.errors import ReportError
from vae_collapse.report.markdown import HEADLINE
from vae_collapse.report.table1 import COLUMNS
from vae_collapse.reporting.wandb_logger import has_wandb_key
from vae_collapse.reporting.wandb_modes import WANDB_MODES

if TYPE_CHECKING:
    from vae_collapse.report.build import Report

DEFAULT_PROJECT = "vae-collapse"
MIXED_GROUP = "reproduction-report"


def _run_group(run) -> str:
    """The W&B group a run logged to: the experiment name, plus the sweep folder in a multirun
    (the rule of vae_collapse.training.run, read back from the folder layout)."""
    name = str(run.config.get("name", "default"))
    sweep = run.run_dir.parent
    return f"{name}-{sweep.name}" if (sweep / "multirun.yaml").is_file() else name


def default_group(report: Report) -> str:
    groups = {_run_group(run) for run in report.runs}
    return groups.pop() if len(groups) == 1 else MIXED_GROUP


def _project(report: Report) -> str:
    projects = {(run.config.get("logger") or {}).get("wandb", {}).get("project") for run in report.runs} - {None}
    return projects.pop() if len(projects) == 1 else DEFAULT_PROJECT


def check_mode(mode: str) -> None:
    """Refuse a mode that cannot log, before the report reads or writes anything."""
    if mode not in WANDB_MODES:
        raise ReportError(f"--wandb {mode}: must be one of {', '.join(WANDB_MODES)}")
    if mode == "online" and not has_wandb_key():
        raise ReportError("--wandb online needs WANDB_API_KEY or `wandb login`; use offline and `wandb sync` later")


def log_report(report: Report, mode: str, group: str | None = None) -> dict[str, Any]:
    """Log every figure (``report/fig<N>/<id>``) and table to one W&B run; always finished."""
    check_mode(mode)
    import wandb

    group = group or default_group(report)
    run = wandb.init(project=_project(report), group=group, name="report", job_type="report", mode=mode,
                     dir=str(report.out_dir), config={"sources": [str(p) for p in report.sources]},
                     reinit="finish_previous",
                     settings=wandb.Settings(quiet=True))  # as for runs: the report prints where it went
    status = 1
    try:
        payload: dict[str, Any] = {
            f"report/fig{f.number}/{f.id}": wandb.Image(str(f.file), caption=f.title) for f in report.figures
        }
        if report.table:
            payload["report/table1"] = wandb.Table(columns=list(COLUMNS), data=[r.cells() for r in report.table])
        if report.groups:
            columns = ["setting", "noise policy", "n", *[f"{m} mean" for m in HEADLINE], *[f"{m} std" for m in HEADLINE]]
            data = [[g.label, policy(g).text, g.n, *[g.stat(m).mean for m in HEADLINE],
                     *[g.stat(m).std for m in HEADLINE]] for g in report.groups]
            payload["report/settings"] = wandb.Table(columns=columns, data=data)
        if report.excluded:
            payload["report/excluded"] = wandb.Table(
                columns=["status", "run_dir", "reason"],
                data=[[r.status, str(r.run_dir), r.reason or ""] for r in report.excluded])
        run.log(payload)
        run.summary["report/runs_completed"] = sum(r.usable for r in report.runs)
        run.summary["report/runs_excluded"] = len(report.excluded)
        info = {"mode": mode, "project": run.project, "group": group, "run_id": run.id,
                "dir": os.path.relpath(Path(run.dir).parent, report.out_dir),
                "logged": sorted(payload)}
        status = 0
    finally:
        wandb.finish(exit_code=status)
    return info
