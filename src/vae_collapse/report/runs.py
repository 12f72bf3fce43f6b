"""Finding run directories under the paths a user gives, and reading each one's summary.json.

A run directory is a folder with ``summary.json`` or Hydra's ``.hydra/config.yaml``. A folder
with the second but not the first is a run that has not finished (still running, killed, or
a job of a half-finished sweep): it is listed, never dropped.

A later ``vae-collapse-eval <run>`` writes ``<run>/eval/eval.json``. Its metrics fill in only the
ones the summary lacks (e.g. ``ppca/residual_dims`` of a run made before it was measured), and
only when it measured the run's final checkpoint: the run's own numbers always win.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vae_collapse.report.curves import damaged_files
from vae_collapse.report.errors import ReportError
from vae_collapse.reporting.summary import REJECTED_FILE, SUMMARY_FILE
from vae_collapse.training.checkpoint_paths import checkpoint_file, run_folder_of

# Folders inside a run that never hold another run; skipping them keeps the walk short.
SKIP_DIRS = frozenset({"wandb", "csv", ".hydra", "__pycache__", "checkpoints"})
# A completed run whose headline number is not finite diverged, whatever its status says.
DIVERGENCE_METRIC = "train/elbo"
# Where vae-collapse-eval writes by default; an eval elsewhere (--out) is not the run's.
EVAL_FILE = Path("eval") / "eval.json"


@dataclass
class Run:
    run_dir: Path
    status: str  # completed, failed, diverged, interrupted, unfinished, continued, unreadable, ...
    reason: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    # Metrics taken from a later vae-collapse-eval (EVAL_FILE), with the eval.* overrides it used.
    from_eval: list[str] = field(default_factory=list)
    eval_overrides: list[str] = field(default_factory=list)
    eval_settings: dict[str, Any] = field(default_factory=dict)  # all eval.* of that measurement
    # The checkpoint this run continued from (summary.json's resumed_from), if any.
    resumed_from: Path | None = None
    # A later job into this run's folder that bad input stopped (its rejected.txt): the run is as it was.
    refused_later: str | None = None
    # Its files the report found but could not read ("collapse_curve.csv: ..."): left out where needed.
    damaged: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status == "completed"

    @property
    def seed(self) -> Any:
        return self.config.get("seed")


def is_run_dir(path: Path) -> bool:
    return (path / SUMMARY_FILE).is_file() or (path / ".hydra" / "config.yaml").is_file()


def _another_tools(path: Path) -> bool:
    """A summary.json with no vae-collapse config beside or in it: another tool's file, whose folder
    may still hold runs below it."""
    if (path / ".hydra" / "config.yaml").is_file():
        return False
    try:
        summary = json.loads((path / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return False  # unreadable: listed as such
    return not (isinstance(summary, dict) and isinstance(summary.get("config"), dict))


def check_paths(paths: list[Path]) -> None:
    for path in paths:
        if not path.exists():
            raise ReportError(f"PATH {path} does not exist; give run directories or multirun folders")
        if not path.is_dir():
            raise ReportError(f"PATH {path} is not a directory; give run directories or multirun folders")


def _unvisited(folder: Path, excluded: Path | None, walked: set[Path]) -> bool:
    return folder != excluded and folder not in walked  # a link back up would loop forever


def discover(paths: list[Path], exclude: Path | None = None) -> list[Path]:
    """Every run directory at or below ``paths``, each once, in sorted order.

    ``exclude`` (the report's own output folder) is never walked into. Linked folders are
    followed (a folder of links to chosen runs is a way to report them), each real folder once.
    """
    check_paths(paths)
    found: set[Path] = set()
    walked: set[Path] = set()
    excluded = exclude.resolve() if exclude is not None else None
    for path in paths:
        if is_run_dir(path) and not _another_tools(path):
            found.add(path.resolve())
            continue
        for root, dirs, _ in os.walk(path, followlinks=True):
            here = Path(root)
            walked.add(here.resolve())
            dirs[:] = sorted(
                d for d in dirs
                if d not in SKIP_DIRS and not d.startswith(".") and _unvisited((here / d).resolve(), excluded, walked)
            )
            if is_run_dir(here) and not _another_tools(here):
                found.add(here.resolve())
                dirs[:] = []
    return sorted(found)


def _number(value: Any) -> float | None:
    """A metric value as float; summary.json stores NaN and Inf as strings."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _read_overrides(run_dir: Path) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return []
    return [str(item) for item in loaded] if isinstance(loaded, list) else []


def _hydra_config(run_dir: Path) -> dict[str, Any]:
    """The composed (unresolved) config of a run that left no summary."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception:  # noqa: BLE001 - a broken file only costs the label, not the report
        return {}


def _later_evaluation(run_dir: Path, metrics: dict[str, float]) -> tuple[dict[str, float], list[str], dict[str, Any]]:
    """The metrics of ``EVAL_FILE`` that ``metrics`` lacks, its overrides and its eval settings; nothing if it is stale.

    Stale: measured at another step than the run's last (the run was resumed and trained on since).
    """
    try:
        evaluated = json.loads((run_dir / EVAL_FILE).read_text())
    except (OSError, ValueError):
        return {}, [], {}
    if not isinstance(evaluated, dict) or not isinstance(evaluated.get("metrics"), dict):
        return {}, [], {}
    steps = metrics.get("time/steps")
    if steps is not None and _number(evaluated.get("global_step")) != steps:
        return {}, [], {}
    added = {}
    for name, value in evaluated["metrics"].items():
        number = _number(value)
        if name not in metrics and number is not None:
            added[name] = number
    overrides = evaluated.get("overrides")
    settings = evaluated.get("eval") if isinstance(evaluated.get("eval"), dict) else {}
    return added, [str(item) for item in overrides] if isinstance(overrides, list) else [], settings


def _refusal(run_dir: Path) -> str | None:
    """The first line of the folder's rejected.txt (bad input stopped a job there), if it has one."""
    try:
        lines = (run_dir / REJECTED_FILE).read_text(errors="replace").strip().splitlines()
    except OSError:
        return None
    return lines[0] if lines else "bad input"


def load_run(run_dir: Path) -> Run:
    overrides = _read_overrides(run_dir)
    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.is_file():
        refused = _refusal(run_dir)
        # A checkpoint is an earlier, unfinished run that a later job into the folder did not
        # replace: it still resumes, so it is listed as what it is, not as the refusal.
        if refused is not None and not checkpoint_file(run_dir).is_file():
            return Run(run_dir, "rejected", f"stopped by bad input: {refused}",
                       config=_hydra_config(run_dir), overrides=overrides)
        later = f"; a later job into this folder was refused: {refused}" if refused is not None else ""
        return Run(run_dir, "unfinished", f"no summary.json (still running, stopped, or never started){later}",
                   config=_hydra_config(run_dir), overrides=overrides)
    try:
        summary = json.loads(summary_path.read_text())
        if not isinstance(summary, dict):
            raise ValueError("not a JSON object")
    except (ValueError, OSError) as exc:
        return Run(run_dir, "unreadable", f"{SUMMARY_FILE}: {exc}".splitlines()[0],
                   config=_hydra_config(run_dir), overrides=overrides)
    metrics, damaged = {}, []
    recorded = summary.get("metrics")
    for name, value in (recorded.items() if isinstance(recorded, dict) else ()):
        number = _number(value)
        if number is not None:
            metrics[name] = number
        else:
            damaged.append(f"{SUMMARY_FILE}: metrics[{name!r}] is {value!r}, not a number; it reads n/a")
    status = str(summary.get("status") or "unknown")
    reason = summary.get("reason")
    if status == "completed" and not metrics:  # every run measures something at its end
        return Run(run_dir, "unreadable", f"{SUMMARY_FILE}: status completed, but no metrics",
                   config=_hydra_config(run_dir), overrides=overrides)
    if status == "completed" and DIVERGENCE_METRIC in metrics and not math.isfinite(metrics[DIVERGENCE_METRIC]):
        status, reason = "diverged", f"{DIVERGENCE_METRIC} = {metrics[DIVERGENCE_METRIC]}"
    config = summary.get("config") if isinstance(summary.get("config"), dict) else _hydra_config(run_dir)
    if isinstance(summary.get("overrides"), list):  # the run's own (older runs' .hydra/ may hold a later command's)
        overrides = [str(item) for item in summary["overrides"]]
    added, eval_overrides, eval_settings = _later_evaluation(run_dir, metrics) if status == "completed" else ({}, [], {})
    metrics.update(added)
    resumed_from = summary.get("resumed_from")
    return Run(run_dir, status, reason, metrics, config, overrides,
               from_eval=sorted(added), eval_overrides=eval_overrides if added else [],
               eval_settings=eval_settings if added else {},
               resumed_from=Path(resumed_from) if isinstance(resumed_from, str) and resumed_from else None,
               refused_later=_refusal(run_dir),
               damaged=damaged + damaged_files(run_dir) if status == "completed" else [])


def _written(run: Run) -> float:
    try:
        return (run.run_dir / SUMMARY_FILE).stat().st_mtime
    except OSError:
        return 0.0


def mark_continued(runs: list[Run]) -> list[Run]:
    """Unfinished runs that a later run continued from their checkpoint (``resume=``, or a sweep job
    that found its run unfinished in another folder) become status ``continued``, naming where the
    run went on, and where it is now when it was continued more than once. Paths are compared
    resolved (``..``, symbolic links); of two runs continued from one folder the newer counts."""
    later_of: dict[Path, Run] = {}
    for run in runs:
        source = run_folder_of(run.resumed_from) if run.resumed_from is not None else None
        if source is None or source.resolve() == run.run_dir.resolve():  # resumed in its own folder
            continue
        known = later_of.get(source.resolve())
        if known is None or _written(run) > _written(known):
            later_of[source.resolve()] = run
    out = []
    for run in runs:
        chain, seen = [], {run.run_dir.resolve()}
        later = later_of.get(run.run_dir.resolve())
        while later is not None and later.run_dir.resolve() not in seen:
            chain.append(later)
            seen.add(later.run_dir.resolve())
            later = later_of.get(later.run_dir.resolve())
        if chain and not run.usable:
            now = f", then in {chain[-1].run_dir}" if len(chain) > 1 else ""
            run = replace(run, status="continued",
                          reason=f"continued in {chain[0].run_dir}{now} ({chain[-1].status} there)")
        out.append(run)
    return out


def load_runs(paths: list[Path], exclude: Path | None = None) -> list[Run]:
    return mark_continued([load_run(run_dir) for run_dir in discover(paths, exclude)])
