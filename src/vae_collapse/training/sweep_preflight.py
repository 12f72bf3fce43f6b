"""Check every job of a sweep before the first one starts.

Hydra's basic sweeper composes each job's config before launching any, so a key that does not
exist stops the sweep at once. A value that composes but that the run refuses (``noise.sigma2=-1``,
a seed out of range, an option that clashes with another) was found only when its job's turn came:
after the jobs before it had trained, perhaps for hours. This Hydra callback (conf/hydra/default.yaml)
composes each job as the sweeper will, and runs the checks a run makes before it reads any data
(``run.validate`` and ``run.build_parts``). Where any job would be refused, the sweep is refused
whole, in one line that names the jobs, and nothing is written.

Left to the jobs themselves: what needs the data (a latent size larger than the data), the run
folder (a clash with the run it holds) or a checkpoint (``resume=`` jobs), and other sweepers'
jobs (Optuna samples its values as it goes).
"""

from __future__ import annotations

import copy
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

# Distinct errors named in the one line; the rest are counted.
SHOWN = 3
# Checking takes about a quarter of a second a job (composing it is most of that): a sweep this
# large says what it is doing first.
ANNOUNCE_FROM = 20


class SweepRefused(BaseException):
    """Some job of a sweep would be refused as bad input; none was started. Not an Exception:
    Hydra turns a callback's Exception into a warning and goes on with the sweep."""

    def __init__(self, message: str, about_jobs: bool = True) -> None:
        super().__init__(message)
        self.about_jobs = about_jobs  # False: the sweep as a whole, which no job override fixes


def sweep_jobs(config: DictConfig) -> tuple[list[list[str]], set[str]] | None:
    """Every job's overrides, in the basic sweeper's order, and the keys the sweep varies; None where
    the overrides do not parse (Hydra's sweeper then says why)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    try:
        # Unresolved, as the sweeper reads them: a ${...} on the command line belongs to the job.
        task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
        arguments = [f"{key}={value}" for key, value in params.items()] + list(task)
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        parsed = parser.parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(parsed, None)
    except Exception:  # noqa: BLE001 - reported by the sweeper itself, as without this check
        return None
    swept = {str(key).lstrip("+~") for key in params}
    swept |= {o.key_or_group.lstrip("+~") for o in parsed if o.is_sweep_override()}
    return [list(job) for batch in batches for job in batch], swept


# Launchers whose jobs run on this machine: their device settings (trainer.accelerator=gpu on a
# machine without one) can be checked here. Slurm's jobs run elsewhere.
LOCAL_LAUNCHERS = ("BasicLauncher", "JoblibLauncher", "StoppableJoblibLauncher", "LocalLauncher")


def runs_here(config: DictConfig) -> bool:
    target = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
    return target.rsplit(".", 1)[-1] in LOCAL_LAUNCHERS


def job_label(overrides: list[str], swept: set[str]) -> str:
    """A job named by the values its sweep varies, as its folder is (sweep_jobs.folder_name), in the user's spelling."""
    mine = [o.lstrip("+") for o in overrides if o.split("=", 1)[0].lstrip("+~") in swept]
    label = ",".join(sorted(mine, key=lambda o: o.split("=", 1)[0])) or ",".join(overrides) or "0"
    return re.sub(r"\\(.)", r"\1", label)  # as the user wrote it: a swept ${a:b} comes back as $\{a\:b\}


@contextmanager
def _quiet() -> Iterator[None]:
    """Building a Trainer logs which accelerators it found; once per job it would bury the sweep's lines."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def refusals(config: DictConfig) -> tuple[int, list[tuple[str, str]]]:
    """(the number of jobs, [(job, why it would be refused)]) for a basic sweep's multirun config."""
    from hydra.core.global_hydra import GlobalHydra

    from vae_collapse.config import ConfigError
    from vae_collapse.data import DataError
    from vae_collapse.training.run import build_parts, quiet_known_warnings, validate

    expanded = sweep_jobs(config)
    if expanded is None:
        return 0, []
    jobs, swept = expanded
    if len(jobs) >= ANNOUNCE_FROM:  # a pause of several seconds needs a reason
        print(f"vae-collapse: checking the values of the sweep's {len(jobs)} jobs before starting them", flush=True)
    loader = GlobalHydra.instance().config_loader()
    here = runs_here(config)
    refused = []
    first_of: dict[str, str] = {}  # each job config, and the first job with it
    quiet_known_warnings()
    for number, overrides in enumerate(jobs):
        try:
            cfg = loader.load_sweep_config(master_config=config, sweep_overrides=overrides)
        except Exception:  # noqa: BLE001 - Hydra's own check of the batch reports it, as for one run
            return len(jobs), []
        if cfg.get("resume"):
            continue  # composed from its checkpoint, in the job
        try:
            with _as_job(cfg, number) as task_cfg, _quiet():
                validate(task_cfg)
                build_parts(task_cfg, devices_elsewhere=not here)
                key = _config_key(task_cfg)
        except (ConfigError, DataError) as exc:
            refused.append((job_label(overrides, swept), str(exc)))
            continue
        except Exception:  # noqa: BLE001 - not known bad input: the job itself says what it is
            continue
        label = job_label(overrides, swept)
        if key in first_of:
            refused.append((label, f"the same config as job {first_of[key]} (a value listed twice, or spelled twice "
                                   "as 1 and 1.0): it would train twice, or twice at once in one folder; list it once"))
        else:
            first_of[key] = label
    return len(jobs), refused


def _config_key(task_cfg: DictConfig) -> str:
    """One text per job's whole config, 1 and 1.0 alike. Jobs that differ only in how they log or show
    progress (trainer.log_every_n_steps=1,5) are other commands of one run, and both run, as before."""
    import json

    def same_numbers(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: same_numbers(v) for k, v in node.items()}
        if isinstance(node, list):
            return [same_numbers(v) for v in node]
        return int(node) if isinstance(node, float) and node.is_integer() else node

    plain = OmegaConf.to_container(task_cfg, resolve=True)
    return json.dumps(same_numbers(plain), sort_keys=True, default=str)


@contextmanager
def _as_job(cfg: DictConfig, number: int) -> Iterator[DictConfig]:
    """The job's config as Hydra's basic launcher gives it to the job: with its number, its
    environment (``hydra.job.env_set``), and without its ``hydra`` node, which ``${hydra:...}``
    reads instead (the run folder is a stand-in that is never made)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import env_override

    with open_dict(cfg):
        cfg.hydra.job.id = number
        cfg.hydra.job.num = number
        cfg.hydra.runtime.output_dir = str(Path(str(cfg.hydra.sweep.dir)).absolute() / "(not made)")
    before = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)
    task_cfg = copy.deepcopy(cfg)
    with open_dict(task_cfg):
        del task_cfg["hydra"]
    try:
        with env_override(dict(cfg.hydra.job.env_set or {})):
            yield task_cfg
    finally:
        HydraConfig.instance().cfg = before


def describe(total: int, refused: list[tuple[str, str]]) -> str:
    """One line: each distinct error once, with the jobs it refuses (a bad value refuses every seed)."""
    by_error: dict[str, list[str]] = {}
    for job, why in refused:
        by_error.setdefault(why, []).append(job)
    parts = []
    for why, jobs in list(by_error.items())[:SHOWN]:
        named = ", ".join(f"[{job}]" if "," in job else job for job in jobs[:2])
        more = f" and {len(jobs) - 2} more" if len(jobs) > 2 else ""
        parts.append(f"{why} (job{'' if len(jobs) == 1 else 's'} {named}{more})")
    if len(by_error) > SHOWN:
        parts.append(f"and {len(by_error) - SHOWN} more errors")
    return (f"{len(refused)} of the sweep's {total} job{'' if total == 1 else 's'} would be refused, so none was "
            f"started: {'; '.join(parts)}")


class SweepPreflight(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from vae_collapse.training.hydra_files import holds_a_run
        from vae_collapse.training.sweep_jobs import is_basic_sweep

        sweep_dir = Path(str(config.hydra.sweep.dir))
        if sweep_dir.is_dir() and holds_a_run(sweep_dir):
            # Its jobs would sit inside a run, and the report, which stops at a run folder, never finds them.
            raise SweepRefused(f"hydra.sweep.dir={sweep_dir}: is a run's folder (it holds the run's summary or "
                               "checkpoint); give the sweep a folder of its own", about_jobs=False)
        if not is_basic_sweep(config.hydra):
            return
        total, refused = refusals(config)
        if refused:
            raise SweepRefused(describe(total, refused) + _preset_sweep_hint(config, refused))


def _preset_sweep_hint(config: DictConfig, refused: list[tuple[str, str]]) -> str:
    """Where a refused key is swept by the config (a preset's hydra.sweeper.params), not by the
    user: say so, since the command line can narrow that sweep but not remove it."""
    # Unresolved, as sweep_jobs reads them: a ${...} on the command line belongs to the job.
    params = OmegaConf.to_container(OmegaConf.select(config, "hydra.sweeper.params") or OmegaConf.create({}),
                                    resolve=False)
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    typed = {str(o).split("=", 1)[0].lstrip("+~") for o in task}
    for _, why in refused:
        key = why.split(":", 1)[0].split("=", 1)[0].split(" ", 1)[0]
        if key in params and key not in typed:
            return (f"; {key} is swept by the preset's hydra.sweeper.params ({params[key]}), which the command line "
                    f"can narrow ({key}=...) but not remove: for another noise policy or model, use a preset made "
                    "for it, or run one setting of this one without -m")
    return ""
