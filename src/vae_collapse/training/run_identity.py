"""A run's W&B group and name: per experiment, or per sweep in a multirun.

In a sweep the name carries only what varies between its jobs (``3-noise.sigma2=1.0,seed=0``):
the keys the sweeper's ``params`` sweep and those the command line gave several values. The
overrides every job shares are in the W&B config (``overrides``) and in the group's sweep.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf


def run_identity(cfg: DictConfig, run_dir: Path) -> tuple[str, str]:
    """(group, name) for the loggers."""
    name = cfg.name
    try:
        hydra_cfg = HydraConfig.get()
    except ValueError:  # called outside a Hydra app (tests, notebooks)
        return name, run_dir.name
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return name, run_dir.name
    sweep_dir = Path(hydra_cfg.sweep.dir)
    job = []
    # Only Hydra's basic sweeper writes multirun.yaml at the start of each sweep; another sweeper
    # (Optuna) may leave an older sweep's file in a reused folder, and takes its command-line
    # sweeps into its search space: there, every override names the run.
    if str(hydra_cfg.sweeper.get("_target_", "")).endswith(".BasicSweeper"):
        params = {_key(k) for k in (hydra_cfg.sweeper.get("params") or {})}
        swept = params | command_line_sweeps(sweep_dir / "multirun.yaml")
        job = [o for o in hydra_cfg.overrides.task if _key(o.split("=", 1)[0]) in swept]
    varying = ",".join(job) or hydra_cfg.job.override_dirname or str(hydra_cfg.job.num)
    return f"{name}-{sweep_dir.name}", f"{hydra_cfg.job.num}-{varying}"


def _key(text: str) -> str:
    """``+model.extra`` and ``~x`` are the keys ``model.extra`` and ``x``."""
    return text.lstrip("+~")


def command_line_sweeps(multirun_yaml: Path) -> set[str]:
    """Keys the multirun's command line gave several values (``k=a,b``, ``range``, ``choice``)."""
    try:
        overrides = list(OmegaConf.load(multirun_yaml).hydra.overrides.task)
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - a name is not worth failing a run for; fall back to all overrides
        return set()
    return {_key(o.key_or_group) for o in parsed if o.is_sweep_override()}
