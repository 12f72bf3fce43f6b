"""What a sweep's job is called: its folder (``hydra.sweep.subdir``), its W&B name and its console lines.

A job of Hydra's basic sweeper is named by the values the sweep varies, keys sorted:
``multirun/<name>/<time>/noise.sigma2=1.0,seed=0/``. Hydra's default, the job's number, depends on
the job's place in the sweep, so adding a value to a sweep re-run into the same folder would move
every later job onto a folder that holds another run. Named by their values, the jobs already run
keep their folders (and are skipped as completed), and only the new values get new ones.

What varies: the keys the sweeper's ``params`` sweep (presets) and those the command line gave
several values (``k=a,b``, ``range``, ``choice``), the latter read from the sweep's multirun.yaml,
which the basic sweeper writes before any job starts. Hydra's ``+``/``++`` are left out of the
name: the key is what counts. A sweep that varies nothing (``-m seed=3``) names its job by its
overrides that change the run (not ``logger``, ``paths``, ...), or ``0`` where it has none. Other
sweepers (Optuna) sample new values for every trial, so their jobs keep Hydra's numbers.

A name says which values a command swept, not the whole run: the same run may sit under another
name (an earlier command swept other keys, or wrote 1 for 1.0). A job whose run another folder of
its sweep holds, completed, is skipped (vae_collapse.training.resume.completed_in_sweep).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

RESOLVER = "sweep_job"  # conf/hydra/default.yaml: hydra.sweep.subdir: ${sweep_job:}
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
# A folder name has at most 255 bytes on common file systems; a longer label keeps a readable start
# and a digest of the whole, so that two long labels stay apart.
MAX_NAME = 200


def _key(text: str) -> str:
    """``+model.extra`` and ``~x`` are the keys ``model.extra`` and ``x``."""
    return text.lstrip("+~")


def is_basic_sweep(hydra_cfg: DictConfig) -> bool:
    return str(OmegaConf.select(hydra_cfg, "sweeper._target_", default="")) == BASIC_SWEEPER


def command_line_sweeps(multirun_yaml: Path) -> set[str]:
    """Keys the multirun's command line gave several values (``k=a,b``, ``range``, ``choice``)."""
    try:
        overrides = list(OmegaConf.load(multirun_yaml).hydra.overrides.task)
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - a name is not worth failing a run for; fall back to all overrides
        return set()
    return {_key(o.key_or_group) for o in parsed if o.is_sweep_override()}


def sweep_dir_of(hydra_cfg: DictConfig) -> Path:
    """The sweep folder, from where the command was started (a job with ``hydra.job.chdir=true``
    runs in its own folder, where a relative path would point elsewhere)."""
    where = Path(str(hydra_cfg.sweep.dir))
    if where.is_absolute():
        return where
    return Path(str(OmegaConf.select(hydra_cfg, "runtime.cwd", default="") or os.getcwd())) / where


def swept_overrides(hydra_cfg: DictConfig) -> list[str]:
    """This job's overrides of the keys its (basic) sweep varies, sorted by key; [] for other sweepers."""
    if not is_basic_sweep(hydra_cfg):
        return []
    params = {_key(str(k)) for k in (OmegaConf.select(hydra_cfg, "sweeper.params") or {})}
    swept = params | command_line_sweeps(sweep_dir_of(hydra_cfg) / "multirun.yaml")
    job = [str(o) for o in hydra_cfg.overrides.task if _key(str(o).split("=", 1)[0]) in swept]
    return sorted(job, key=lambda o: _key(o.split("=", 1)[0]))


def _run_changing(overrides: list[str]) -> list[str]:
    """The overrides that change the run itself, sorted, without Hydra's +/++ (the key is what
    counts): not where or how it logs and shows progress (resume.IDENTITY_IGNORED)."""
    from vae_collapse.config.keys import IDENTITY_IGNORED

    def ignored(key: str) -> bool:
        return any(key == k or key.startswith(k + ".") or key.startswith(k + "/") for k in IDENTITY_IGNORED)

    kept = [o.lstrip("+") for o in overrides if not ignored(_key(o.split("=", 1)[0]))]
    return sorted(kept, key=lambda o: o.split("=", 1)[0])


def _unquoted(override: str) -> str:
    """``resume='a,b'`` as ``resume=a,b``: the quotes only keep a path's commas from Hydra."""
    key, _, value = override.partition("=")
    if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return f"{key}={value}"


def folder_name(hydra_cfg: DictConfig) -> str:
    """The job's folder in the sweep folder (see the module docstring)."""
    number = str(OmegaConf.select(hydra_cfg, "job.num", default=0))
    if not is_basic_sweep(hydra_cfg):
        return number
    swept = [_unquoted(o.lstrip("+")) for o in swept_overrides(hydra_cfg)]
    label = ",".join(swept or _run_changing([str(o) for o in hydra_cfg.overrides.task])) or number
    label = label.replace(os.sep, "-")  # a value that is a path must not make nested folders
    if label.startswith("."):
        label = "_" + label  # the sweep report skips hidden folders (launcher state)
    if len(label.encode()) > MAX_NAME:
        digest = hashlib.md5(label.encode()).hexdigest()[:8]
        label = label.encode()[:MAX_NAME - 9].decode(errors="ignore") + "-" + digest
    return label


def _resolve(*, _root_: DictConfig) -> str:
    hydra_cfg = OmegaConf.select(_root_, "hydra")
    return folder_name(hydra_cfg) if hydra_cfg is not None else "0"


def register_resolver() -> None:
    """Make ``${sweep_job:}`` known; needed in every process that starts a job (joblib and submitit
    workers import the console script's module, which calls this)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, _resolve)


def current_sweep_dir() -> Path | None:
    """The sweep folder where this run is a job of the basic sweeper (folders named by values), else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        hydra_cfg = HydraConfig.get()
    except ValueError:
        return None
    if hydra_cfg.mode != RunMode.MULTIRUN or not is_basic_sweep(hydra_cfg):
        return None
    return sweep_dir_of(hydra_cfg)


def current_job() -> str | None:
    """This job's folder name where it is a job of a multirun, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        hydra_cfg = HydraConfig.get()
    except ValueError:
        return None
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return folder_name(hydra_cfg)
