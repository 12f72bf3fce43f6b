"""One experiment, end to end: validate, build, fit, evaluate, report."""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from vae_collapse.config import ConfigError, build, check_node, checked_call
from vae_collapse.config.batch_size import resolve_batch_size
from vae_collapse.config.errors import as_typed
from vae_collapse.config.run_name import name_problem
from vae_collapse.maths import ppca
from vae_collapse.maths.moments import covariance_eigenvalues, data_moments
from vae_collapse.reporting.loggers import build_loggers, finish_loggers, log_config
from vae_collapse.reporting.console import keep, say, stop_keeping_in
from vae_collapse.reporting.summary import SUMMARY_FILE, REJECTED_FILE, TRACEBACK_FILE, TRAJECTORY_FILE, write_summary
from vae_collapse.reporting.table import result_table
from vae_collapse.training import interrupts
from vae_collapse.training.run_identity import run_identity
from vae_collapse.training.checkpoints import (
    CHECKPOINT_DIR,
    LAST,
    META_KEY,
    AtomicCheckpointIO,
    CheckpointSettings,
    LoggingStepOfResumedRun,
    RunMetadata,
    atomic_torch_save,
    checkpoint_callback,
    check_same_data,
    data_fingerprint,
    load_weights,
    keep_last_good_checkpoint,
    make_run_metadata,
    run_folder_of,
)
from vae_collapse.training.collapse_tracker import ALIGNMENT_FILE, CollapseTracker
from vae_collapse.training.graceful_stop import StopBetweenSteps
from vae_collapse.training.hydra_files import holds_a_run, write_hydra_files
from vae_collapse.training.lit_module import VAEModule
from vae_collapse.training.measurements import final_measurements, has_linear_decoder, wants_eigenvectors
from vae_collapse.training.trainer_settings import check_trainer_settings
from vae_collapse.training.progress import StepProgressBar, parallel_job
from vae_collapse.training.reference import largest_fittable_k, run_reference
from vae_collapse.training.resume import is_completed, plan_folder, read_summary, resume_source
from vae_collapse.training.schedules import schedule_length
from vae_collapse.training.sweep_jobs import current_sweep_dir

# Built in this order; each is checked before anything is built, so a bad value anywhere
# fails before a data set is fetched or a step is taken.
GROUPS = (
    ("dataset", ()),
    ("noise", ()),
    ("model", ("data_dim", "sample_shape", "noise")),
    ("optimizer", ()),
    ("lr_scheduler", ()),
    ("trainer", ("logger", "callbacks", "default_root_dir", "plugins", "enable_checkpointing")),
    ("eval", ()),
    ("checkpoint", ()),
)


@dataclass
class RunResult:
    """How a run ended: ``completed`` or ``diverged`` (non-finite loss); ``skipped`` is True when the
    folder already held this run, completed. A failed or interrupted run raises instead (its
    summary.json says ``failed`` or ``interrupted``)."""

    status: str
    metrics: dict[str, Any]
    run_dir: Path
    reason: str | None = None
    skipped: bool = False
    files: dict[str, Path] = field(default_factory=dict)


def _interruption(exc: BaseException) -> str | None:
    """What signal stopped the run, or None for a SystemExit that no signal caused (a failure).

    Lightning catches Ctrl-C inside ``fit`` and exits with SystemExit(1), and turns SIGTERM into
    SIGTERMException, a SystemExit with code None, which would read as success.
    """
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    if interrupts.received():
        return interrupts.received()
    if isinstance(exc, SIGTERMException):
        return "SIGTERM"
    return "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else None


def _task_overrides() -> list[str]:
    """The command line's overrides of this job (a sweep's job gets its own values)."""
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def _job_log(run_dir: Path) -> Path | None:
    """Hydra's log file of this job (reporting.console keeps the printed lines there)."""
    try:
        path = run_dir / f"{HydraConfig.get().job.name}.log"
    except ValueError:
        return None
    return path if path.is_file() else None


# Top-level keys besides the groups, with their types; anything else is a typo, refused by name.
TOP_LEVEL = {"name": (str,), "seed": (int,), "resume": (str, type(None))}
SEED_MAX = 2**32 - 1


def _check_top_level(cfg: DictConfig) -> None:
    known = {group for group, _ in GROUPS} | set(TOP_LEVEL) | {"paths", "logger"}
    for key in cfg.keys():
        if key not in known:
            raise ConfigError(f"{key}: unknown top-level key; valid keys: {', '.join(sorted(known))}")
    for key, types in TOP_LEVEL.items():
        if OmegaConf.is_missing(cfg, key):
            raise ConfigError(f"{key}: has no value (??? in the config); give one with {key}=...")
        value = cfg.get(key)
        if not isinstance(value, types) or isinstance(value, bool):
            expected = " | ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ConfigError(f"{key}={as_typed(value)}: expected {expected}")
    problem = None if cfg.resume else name_problem(cfg.name)  # a resumed run keeps the name it was made with
    if problem:
        raise ConfigError(problem)
    if isinstance(cfg.resume, str) and not cfg.resume.strip():  # `resume=$RUN` with RUN unset: not a new run
        raise ConfigError("resume= is empty: give a run folder or a .ckpt file (or leave resume out to start a "
                          "new run)")
    if not 0 <= cfg.seed <= SEED_MAX:  # numpy's range, which Lightning seeds too
        raise ConfigError(f"seed={cfg.seed}: must be between 0 and {SEED_MAX}")


def _check_wandb_mode_variable(cfg: DictConfig) -> None:
    """A bad WANDB_MODE reaches logger.wandb.mode through its default: name the variable, which the
    user set, not the key, which they did not."""
    from vae_collapse.reporting.wandb_modes import WANDB_MODES

    variable = os.environ.get("WANDB_MODE")
    wandb_node = (cfg.get("logger") or {}).get("wandb")
    if variable is None or variable in WANDB_MODES or not wandb_node or wandb_node.get("mode") != variable:
        return
    raise ConfigError(f"WANDB_MODE={variable!r} (the environment variable behind logger.wandb.mode): "
                      f"expected one of {', '.join(WANDB_MODES)}")


def _check_budget_fits_data(cfg: DictConfig) -> None:
    """A ``budget=gpu_<data>`` option sizes the runs of one data set (its steps, its splits): on
    another it would run that data set at a length nobody chose. The rule is the option's name,
    so a user's own ``gpu_<data>`` budget is held to it too; other names are not checked."""
    if cfg.get("resume"):
        return  # the run's settings come from its checkpoint, not from the command line's groups
    try:
        choices = HydraConfig.get().runtime.choices
    except ValueError:  # built without Hydra (tests, the API): no groups to compare
        return
    budget, dataset = choices.get("budget"), choices.get("dataset")
    if not (isinstance(budget, str) and budget.startswith("gpu_") and isinstance(dataset, str)):
        return
    meant_for = budget.removeprefix("gpu_")
    if not _sizes(meant_for, dataset):
        fitting = [option for option in _group_options("budget")
                   if option.startswith("gpu_") and _sizes(option.removeprefix("gpu_"), dataset)]
        instead = (f"use budget={' or budget='.join(fitting)}" if fitting
                   else f"no budget option is made for dataset={dataset}: set trainer.max_steps and its sizes yourself")
        raise ConfigError(f"budget={budget} sizes a run on {meant_for} data, and this run's data set is "
                          f"dataset={dataset}: {instead}")


def _sizes(meant_for: str, dataset: str) -> bool:
    """gpu_mnist sizes mnist and fashion_mnist (same images, same splits), not emnist."""
    return dataset == meant_for or dataset.endswith(f"_{meant_for}")


def _group_options(group: str) -> list[str]:
    from hydra.core.global_hydra import GlobalHydra

    try:
        return sorted(GlobalHydra.instance().config_loader().get_group_options(group))
    except Exception:  # noqa: BLE001 - only a hint in an error line; without Hydra there is none
        return []


def validate(cfg: DictConfig) -> None:
    """Refuse bad input in one line; settles ``dataset.batch_size: auto`` first (in place)."""
    _check_top_level(cfg)
    _check_budget_fits_data(cfg)
    resolve_batch_size(cfg)
    for group, supplied in GROUPS:
        node = cfg.get(group)
        if node is not None:
            check_node(node, group, supplied)
    # Loggers too, although they are built later: a job that is skipped as already completed
    # never builds them, and bad input must still be refused.
    _check_wandb_mode_variable(cfg)
    for key, node in (cfg.get("logger") or {}).items():
        if node is not None:
            check_node(node, f"logger.{key}")


def quiet_known_warnings() -> None:
    """Warnings that are expected here and would only bury the run's own output."""
    for pattern in (
        r".*IterableDataset.*has `__len__` defined.*",  # our in-memory batches know their length
        r".*number of training batches .* is smaller than the logging interval.*",  # full batch: 1 per epoch
        r".*Total length of .* across ranks is zero.*",  # no validation split configured
        r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",  # inside Lightning 2.6 with torch 2.13
        r".*does not have many workers which may be a bottleneck.*",  # in-memory tensors need no workers
        r".*Checkpoint directory .* exists and is not empty.*",  # a run resumed in its own folder saves over last.ckpt
        r".*Experiment logs directory .* exists and is not empty.*",  # ... and keeps its CSV log's rows (loggers.py)
        r".*The dirpath has changed from .*",  # resumed into a new folder: only last.ckpt matters here
        # optimizer=em: the state after the step is the one a resumed run must continue from
        r".*Using ModelCheckpoint with manual optimization.*",
        # the data module itself replays the rest of an interrupted epoch (InMemoryDataModule.state_dict)
        r".*resuming from a checkpoint that ended before the epoch ended.*",
    ):
        warnings.filterwarnings("ignore", message=pattern)


# What an attempt leaves in a folder before a run's own records (summary, checkpoint, config) are there.
_ATTEMPT_FILES = {".hydra", REJECTED_FILE, TRACEBACK_FILE}


def _foreign_folder(run_dir: Path) -> str | None:
    """Why the run may not write into ``run_dir``, or None. A run writes its figures, csv/ and
    summary.json into a folder of its own, or one that holds its earlier run (a resume, a re-run
    sweep job): in any other (``hydra.run.dir=.`` in a project, a copied sweep folder) it would
    replace files of the same names without a word."""
    if holds_a_run(run_dir):
        return None
    foreign = sorted(p.name + ("/" if p.is_dir() else "") for p in run_dir.iterdir()
                     if p.name not in _ATTEMPT_FILES and not p.name.endswith(".log")
                     and not p.name.startswith(".write-test-"))
    if not foreign:
        return None
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    sweep = current_sweep_dir()
    where = f"hydra.sweep.dir={sweep}: its job folder {run_dir}" if sweep is not None else f"hydra.run.dir={run_dir}"
    return (f"{where} holds files that are not a run's ({shown}), which the run's files could replace; "
            "give a new or empty folder")


def _resumed_record(run_dir: Path, resume_from: Path | None, resume_step: int | None) -> tuple[str | None, int | None]:
    """summary.json's ``resumed_from`` and ``resumed_at_step``. Resumed in its own folder, a run that
    had itself continued another folder keeps that link: the report follows it to the steps before."""
    if not resume_from:
        return None, None
    source = run_folder_of(Path(resume_from))
    if source is not None and source.resolve() == run_dir.resolve():
        earlier = read_summary(run_dir) or {}  # still the previous part's: this one's is written after
        linked = earlier.get("resumed_from")
        linked_dir = run_folder_of(Path(linked)) if isinstance(linked, str) and linked else None
        if linked_dir is not None and linked_dir.resolve() != run_dir.resolve():
            return linked, earlier.get("resumed_at_step")
    return str(Path(resume_from).resolve()), resume_step


def _writable_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{secrets.token_hex(4)}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"paths.output_dir={run_dir}: cannot write there ({exc.strerror or exc}); "
                          "give a writable folder with hydra.run.dir=... or hydra.sweep.dir=...") from None


# N n min(N, n) multiply-adds above which the ppca/* reference takes more than about a minute
# on 2 CPU cores (5,000 CelebA images, 3e11, take 14 s).
SLOW_REFERENCE_FLOP = 2e12


# Lightning's epoch limit when neither max_steps nor max_epochs is given.
LIGHTNING_DEFAULT_EPOCHS = 1000


def _last_step(cfg: DictConfig, batches_per_epoch: int) -> int | None:
    """The step the run will end at: the first of max_steps and max_epochs that it reaches; None if neither.

    An epoch is ``batches_per_epoch`` batches, or fewer under ``trainer.limit_train_batches``
    (a fraction or a count, as Lightning reads it).
    """
    steps, epochs = cfg.trainer.get("max_steps"), cfg.trainer.get("max_epochs")
    limit = cfg.trainer.get("limit_train_batches")
    if isinstance(limit, float) and limit > 1.0 and limit % 1.0 == 0:
        limit = int(limit)  # as Lightning reads 2.0: two batches
    if isinstance(limit, float) and 0.0 <= limit <= 1.0:
        batches_per_epoch, full = int(batches_per_epoch * limit), batches_per_epoch
        if limit > 0.0 and batches_per_epoch == 0:  # Lightning would stop at fit with a traceback
            raise ConfigError(f"trainer.limit_train_batches={limit}: leaves no training batch per epoch (int({full} x "
                              f"{limit}) = 0); give a larger fraction, a number of batches, or 0 for no training")
    elif isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        batches_per_epoch = min(batches_per_epoch, limit)
    limits = []
    if isinstance(steps, int) and steps >= 0:
        limits.append(steps)
    if epochs is None and not limits:
        epochs = LIGHTNING_DEFAULT_EPOCHS
    if isinstance(epochs, int) and epochs >= 0:
        limits.append(epochs * batches_per_epoch)
    return min(limits) if limits else None


def _end_setting(cfg: DictConfig, last_step: int) -> str:
    """The trainer setting that ends the run at ``last_step`` (see _last_step), as key=value."""
    steps, epochs = cfg.trainer.get("max_steps"), cfg.trainer.get("max_epochs")
    if steps == last_step:
        return f"trainer.max_steps={steps}"
    if epochs is None:
        return f"trainer.max_epochs=null (Lightning's default of {LIGHTNING_DEFAULT_EPOCHS} epochs)"
    return f"trainer.max_epochs={epochs}"


def _run_warnings(cfg: DictConfig, noise, last_step: int | None, eval_settings, data_dim: int | None = None) -> list[str]:
    """What the user should know before a long run: schedules it cuts off, limits it lacks, settings it ignores."""
    found = []
    model = cfg.get("model") or {}
    latent_dim = model.get("latent_dim")
    fittable = (largest_fittable_k(data_dim, latent_dim, noise.reference_sigma2(last_step))
                if data_dim is not None and isinstance(latent_dim, int) else None)
    if fittable is not None and 0 < fittable < latent_dim:
        found.append(f"model.latent_dim={latent_dim} is {'not below' if fittable < data_dim else 'above'} the "
                     f"data's {data_dim} dimensions: the linear prediction ppca/* is for k={fittable}, the most "
                     f"pPCA can fit{' with a learned sigma2' if fittable < data_dim else ''}")
    if model.get("encoder") == "linear" and model.get("encoder_hidden") is not None:
        found.append(f"model.encoder_hidden={list(model.encoder_hidden)} is not used: model.encoder=linear has "
                     "no hidden layers (model.encoder=mlp or deep_linear has)")
    if last_step is None:
        return [*found, "trainer.max_steps and trainer.max_epochs are both unlimited (-1): the run trains until it "
                "is stopped, and ppca/* and the schedules assume it never ends"]
    if last_step == 0:
        return [*found, "the run takes no training step (trainer.max_steps=0 or max_epochs=0): its results are "
                "those of the initial model"]
    found += [w for w in [noise.unfinished_schedule(last_step)] if w]
    length = schedule_length(cfg.get("lr_scheduler"))
    if length is not None and 0 < length < last_step:
        found.append(f"the learning-rate schedule is built for {length} steps and the run ends at step {last_step}: "
                     "past its end the rate stays at final_factor x lr (constant_then_cosine; 0 by default) or "
                     "rises again (cosine); a resumed run keeps its schedule, so to change it train from scratch")
    every = eval_settings.track_every_n_steps
    if every and every > last_step:
        found.append(f"eval.track_every_n_steps={every} is longer than the run ({last_step} steps): "
                     "collapse is never tracked, so there is no collapse_trajectory.csv")
    return found


def _check_optimizer(module: VAEModule, cfg: DictConfig) -> None:
    """Call the optimiser and schedule factories once on the model: torch checks their values only then."""
    with checked_call(cfg.optimizer, "optimizer"):
        trial = module.optimizer_factory(module.parameter_groups())
    lr = cfg.optimizer.get("lr")
    if isinstance(lr, (int, float)) and lr == 0:  # torch takes it; every step would leave the model as it was
        raise ConfigError("optimizer.lr=0 must be > 0 (at 0 training changes nothing; to measure a model without "
                          "training, use trainer.max_steps=0)")
    if module.scheduler_factory is not None:
        with checked_call(cfg.lr_scheduler, "lr_scheduler"):
            module.scheduler_factory(trial)


@dataclass
class RunParts:
    datamodule: Any
    noise: Any
    model: Any
    module: VAEModule
    eval_settings: Any
    ckpt_settings: CheckpointSettings
    trainer_args: dict[str, Any]


# What a sweep's check of its jobs leaves to the jobs: they may run on other machines (Slurm's GPU
# nodes, launched from a login node without one), and Lightning would set these flags process-wide.
DEVICE_SETTINGS = {"accelerator": "cpu", "devices": 1, "num_nodes": 1, "strategy": "auto", "precision": None,
                   "deterministic": None, "benchmark": None}


def build_parts(cfg: DictConfig, run_dir: Path | None = None, devices_elsewhere: bool = False) -> RunParts:
    """Everything a validated run is made of, built and range-checked before any data is read or a
    folder is looked at: so a sweep can check all its jobs before the first one starts
    (vae_collapse.training.sweep_preflight, with ``devices_elsewhere``: the Trainer is checked with
    DEVICE_SETTINGS in place of the job's own)."""
    datamodule = build(cfg.dataset, "dataset")
    noise = build(cfg.noise, "noise")
    model = build(cfg.model, "model", data_dim=datamodule.data_dim, sample_shape=datamodule.sample_shape, noise=noise)
    optimizer = build(cfg.optimizer, "optimizer")
    scheduler = build(cfg.lr_scheduler, "lr_scheduler") if cfg.get("lr_scheduler") else None
    module = VAEModule(model, optimizer, scheduler)
    _check_optimizer(module, cfg)
    eval_settings = build(cfg.eval, "eval")
    ckpt_settings = build(cfg.checkpoint, "checkpoint") if cfg.get("checkpoint") else CheckpointSettings()
    trainer_args = {"enable_checkpointing": ckpt_settings.enabled}
    if run_dir is not None:
        trainer_args["default_root_dir"] = str(run_dir)
    trainer_node = cfg.trainer
    if devices_elsewhere:
        trainer_node = trainer_node.copy()
        with open_dict(trainer_node):
            for key, value in DEVICE_SETTINGS.items():
                if key in trainer_node:
                    trainer_node[key] = value
    build(trainer_node, "trainer", logger=False, callbacks=[], plugins=[AtomicCheckpointIO()], **trainer_args)  # checks
    check_trainer_settings(cfg.trainer, model, cfg.optimizer.get("_target_"), module.automatic_optimization)
    return RunParts(datamodule, noise, model, module, eval_settings, ckpt_settings, trainer_args)


def _prepare_reference(module: VAEModule, datamodule, noise, last_step: int | None, closed_form: bool):
    """The data's covariance spectrum and pPCA's ppca/* reference; the full moments where the model uses them.

    Full moments only where they are used (the closed-form fit, the linear VAE's full-batch
    path: 2 s on 60k MNIST; a mini-batch linear VAE trains on batches); the ppca/* line needs
    only the eigenvalues, which are far cheaper on wide image data than an n x n covariance.
    """
    model = module.model
    num, dim = datamodule.train_data.shape
    if num * dim * min(num, dim) > SLOW_REFERENCE_FLOP:  # full CelebA: ~10 min on 2 cores, before step 0
        say(f"vae-collapse: computing the pPCA reference from the {num:,} x {dim:,} training data "
            "(its covariance spectrum, in float64 on the CPU); this takes minutes", err=True)
    moments = spec = None
    if closed_form or (getattr(model, "supports_moments", False) and datamodule.is_full_batch):
        moments = module.precomputed_moments = data_moments(datamodule.train_data)
    # The fit needs the eigenvectors, and so does the final check that a linear decoder's columns
    # lie on them (train/aligned_columns): one decomposition serves both and the ppca/* line.
    if closed_form or wants_eigenvectors(model, dim):
        moments = data_moments(datamodule.train_data) if moments is None else moments
        spec = ppca.spectrum(moments)
        eigvals = spec.eigvals
    else:
        eigvals = ppca.eigenvalues(moments) if moments is not None else covariance_eigenvalues(datamodule.train_data)
    return moments, spec, eigvals, run_reference(eigvals, model, noise, last_step)


def _save_closed_form(model, path: Path, meta: dict) -> None:
    """A closed-form fit has no trainer; its checkpoint has the same layout, for vae-collapse-eval."""
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    atomic_torch_save({"state_dict": state, "global_step": 0, META_KEY: meta}, path)


def _skipped_elsewhere(run_dir: Path, plan) -> RunResult:
    """A sweep job whose run another of the sweep's folders holds, completed. The folder Hydra gave
    the job goes where it holds no run of its own (no summary, no checkpoint: at most an attempt
    stopped before its first checkpoint), and the line goes to the other folder's log, so that the
    sweep's last line counts that folder as this command's job (once)."""
    line = f"vae-collapse: skipped {run_dir.name}: the same run already completed in {plan.elsewhere}"
    print(line, flush=True)
    if not _is_rank_zero():
        return RunResult("completed", dict(plan.skip.get("metrics", {})), plan.elsewhere, skipped=True)
    log = _job_log(run_dir)
    if not (run_dir / SUMMARY_FILE).exists() and not (run_dir / CHECKPOINT_DIR).exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        if log is not None:
            try:
                with open(plan.elsewhere / log.name, "a") as handle:
                    handle.write(line + "\n")
            except OSError:
                pass  # only the count at the end of the sweep would miss it
    else:
        keep(line)  # the job's own folder (holding another run) is what the sweep counts
    return RunResult("completed", dict(plan.skip.get("metrics", {})), plan.elsewhere, skipped=True)


def run_experiment(cfg: DictConfig) -> RunResult:
    """Train and evaluate one configuration; the final metrics also go to summary.json."""
    interrupts.install()
    try:
        return _run(cfg)
    finally:
        interrupts.run_over()


def _run(cfg: DictConfig) -> RunResult:
    started = time.time()
    run_dir = Path(cfg.paths.output_dir)
    _writable_run_dir(run_dir)
    foreign = _foreign_folder(run_dir)
    if foreign is not None and current_sweep_dir() is None:
        stop_keeping_in(run_dir)  # a single run leaves nothing there, not even its log
        raise ConfigError(foreign)
    if _is_rank_zero() and not holds_a_run(run_dir):  # a folder with a run gets them once this one is accepted
        write_hydra_files(run_dir, cfg)
    if foreign is not None:  # a sweep job: refused after its .hydra/, by which the sweep's count finds it
        raise ConfigError(foreign)
    # Into the job's log only: the sweep's last line counts the jobs whose log this command wrote,
    # also a job killed before it printed anything.
    keep(f"vae-collapse: starting in {run_dir}")
    cfg, source, loaded = resume_source(cfg, _task_overrides())
    validate(cfg)
    quiet_known_warnings()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    parts = build_parts(cfg, run_dir)
    datamodule, noise, model, module = parts.datamodule, parts.noise, parts.model, parts.module
    eval_settings, ckpt_settings, trainer_args = parts.eval_settings, parts.ckpt_settings, parts.trainer_args
    datamodule.prepare_data()
    datamodule.setup("fit")
    module.check_data(datamodule)
    last_step = _last_step(cfg, len(datamodule.train_dataloader()))
    for warning in _run_warnings(cfg, noise, last_step, eval_settings, datamodule.data_dim):
        say(f"vae-collapse: warning: {warning}", err=True)
    plan = plan_folder(cfg, run_dir, source, loaded, _task_overrides(), sweep_dir=current_sweep_dir())
    (run_dir / REJECTED_FILE).unlink(missing_ok=True)  # an earlier attempt's: this one was accepted
    if plan.elsewhere is not None:
        return _skipped_elsewhere(run_dir, plan)
    if plan.skip is not None:  # before any logger exists: a skipped job opens no W&B run
        say(f"vae-collapse: skipped {run_dir}: already completed (its summary.json); "
            "delete that folder to run it again")
        return RunResult("completed", dict(plan.skip.get("metrics", {})), run_dir, skipped=True)
    meta = plan.meta or {}
    wandb_id = meta.get("wandb_id") or secrets.token_hex(4)
    group, run_name = run_identity(cfg, run_dir)
    # A resumed run is the same W&B run (its id), so it keeps its group and name too: a sweep job
    # continued with resume= into a folder of its own stays in its sweep's group.
    group, run_name = meta.get("wandb_group") or group, meta.get("wandb_name") or run_name
    resume_step = int(plan.loaded.get("global_step", 0)) if plan.checkpoint is not None and plan.loaded else None
    if resume_step is not None and last_step is not None and resume_step > last_step:
        raise ConfigError(f"{_end_setting(cfg, last_step)}: the run would end at step {last_step}, before its checkpoint's step "
                          f"{resume_step} ({plan.checkpoint}); give more steps, or measure that checkpoint again "
                          "with vae-collapse-eval")
    source_dir = run_folder_of(plan.checkpoint) if plan.checkpoint is not None else None
    if resume_step is not None and resume_step == last_step and source_dir is not None \
            and source_dir.resolve() != run_dir.resolve() and is_completed(source_dir):
        # A copy with no step of its own, which the report would then take for the newer run.
        raise ConfigError(f"{_end_setting(cfg, last_step)}: {source_dir} already completed its {last_step} steps, "
                          "so there is nothing to continue; give more steps, or measure that run again with "
                          "vae-collapse-eval")
    fingerprint = data_fingerprint(datamodule.train_data)
    resume_from = plan.checkpoint
    if resume_from is not None:  # Lightning loads them again in fit(); this refuses a misfit in one line first
        check_same_data(meta, fingerprint, resume_from)
        load_weights(module, plan.loaded.get("state_dict", {}), resume_from)
    # Only now, after every refusal: a CSV logger of a resumed run makes its folder at once.
    loggers = build_loggers(cfg.get("logger"), group, run_name, run_id=wandb_id, resume_step=resume_step)
    if resume_from is not None:
        say(f"vae-collapse: continuing from step {resume_step} of {resume_from}", err=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    run_meta = make_run_metadata(resolved, fingerprint, wandb_id, (group, run_name))

    closed_form = getattr(model, "fit", "gradient") == "closed_form"
    status, reason = "failed", None
    files: dict[str, Path] = {}
    last = run_dir / CHECKPOINT_DIR / LAST
    trajectory = run_dir / TRAJECTORY_FILE
    summary = None
    metrics: dict[str, Any] = {}
    bad_input = False
    trainer = None
    try:  # from here on every outcome, a failure too, ends in summary.json and finished loggers
        try:
            moments, spec, eigvals, reference = _prepare_reference(module, datamodule, noise, last_step, closed_form)
        except ConfigError:
            bad_input = True  # found late (pPCA cannot be fitted to this data): one line, as before the run
            raise
        # The run is accepted: nothing refuses it from here, so the folder's records become this run's.
        (run_dir / TRACEBACK_FILE).unlink(missing_ok=True)
        if _is_rank_zero():
            write_hydra_files(run_dir, cfg)
        # From the start, so that a run that fails or diverges still has them in summary.json (W&B has them at step 0).
        metrics.update(reference)
        log_config(loggers, {**resolved, "overrides": _task_overrides()})
        if resume_from is None:  # at step 0, so dashboards draw it as a line under train/elbo
            for logger in loggers:
                logger.log_metrics(reference, step=0)
        progress = StepProgressBar(job=parallel_job())
        callbacks: list = [LoggingStepOfResumedRun()]  # first: the others log at the step it settles
        if cfg.trainer.get("enable_progress_bar", True):
            callbacks.append(progress)
        if eval_settings.track_every_n_steps:
            directions = spec.eigvecs if spec is not None and has_linear_decoder(model) else None
            callbacks.append(CollapseTracker(eval_settings.track_every_n_steps, eval_settings.eps, eval_settings.delta,
                                             eval_settings.track_examples, trajectory, directions))
        callbacks.append(RunMetadata(run_meta))
        saver = checkpoint_callback(run_dir, ckpt_settings) if ckpt_settings.enabled else None
        callbacks.append(StopBetweenSteps(saver))  # after the others: their step is done before it stops
        if saver is not None:
            callbacks.append(saver)
        trainer = build(cfg.trainer, "trainer", logger=loggers or False, callbacks=callbacks,
                        plugins=[AtomicCheckpointIO()], **trainer_args)
        if closed_form:
            model.fit_closed_form(moments, spec)
            if ckpt_settings.enabled and trainer.is_global_zero:
                _save_closed_form(model, last, run_meta)
        else:
            try:
                trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
            except FloatingPointError as exc:  # raised by VAEModule before the step that would apply it
                kept = keep_last_good_checkpoint(last, trainer.global_step, resume_from) if trainer.is_global_zero else ""
                status, reason = "diverged", f"{exc}; {kept}"
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if "/" in k})
        # The rate as the optimiser had it: Lightning's logged copy is a float32 (1e-3 read 0.0010000000474974513);
        # also where a run resumed at its last step took no step.
        if module.last_lr is not None:
            metrics["train/lr"] = module.last_lr
        metrics["time/steps"] = trainer.global_step  # optimiser steps taken (time-to-solution benchmarks)
        if status != "diverged":  # a diverged model has nothing left worth measuring
            # Reseeded so that vae-collapse-eval, given the final checkpoint, draws the same IWAE samples.
            torch.manual_seed(cfg.seed)
            # Lightning's teardown has put the model back on the CPU: measure where it trained, and
            # 16-bit weights (bf16-true) in float32, so that the bounds are not rounded to 8 bits.
            model.to(trainer.strategy.root_device)
            if next(model.parameters()).dtype in (torch.float16, torch.bfloat16):
                model.float()
            if not _is_rank_zero():  # every DDP rank measures (same numbers); one writes the files
                eval_settings = dataclasses.replace(eval_settings, artifacts=False)
            final, files = final_measurements(model, datamodule, eval_settings, run_dir, loggers, trainer.global_step,
                                              eigvals, reference.get("ppca/sigma2"), spec)
            metrics.update(final)
            for logger in loggers:
                logger.log_metrics(metrics, step=trainer.global_step)
            status = "completed"
    except (KeyboardInterrupt, SystemExit) as exc:
        why = _interruption(exc)
        if why is None:
            reason = f"SystemExit({exc.code!r}) inside the run"
            raise
        status, reason = "interrupted", why
        interrupts.install(forget=False)  # Lightning leaves Ctrl-C ignored after one; let the next through
        raise interrupts.RunInterrupted(why, interrupts.EXIT_CODES[why]) from None
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise
    finally:
        interrupts.defer(False)  # outside training a signal stops at once
        if trainer is not None:  # also where it stopped early: how far it got
            metrics.setdefault("time/steps", trainer.global_step)
        metrics["time/seconds"] = round(time.time() - started, 3)
        # The overrides too, so that summary.json alone says how the run was made (.hydra/ of a
        # run made before hydra_files existed holds the latest command aimed at its folder).
        continued, continued_at = _resumed_record(run_dir, resume_from, resume_step)
        extra = {"run_dir": str(run_dir), "wandb_id": wandb_id, "resumed_from": continued,
                 "resumed_at_step": continued_at, "overrides": _task_overrides()}
        try:
            if _is_rank_zero() and not bad_input:  # bad input leaves no run behind
                summary = write_summary(run_dir, status, metrics, resolved, reason=reason, **extra)
        finally:  # even on a full disk: an unfinished W&B run would take the next sweep job's logs
            finish_loggers(loggers, status, reason)
    files = {"run directory": run_dir, "summary": summary, **files}
    if trajectory.is_file():
        files["collapse trajectory"] = trajectory
    if trajectory.with_name(ALIGNMENT_FILE).is_file():
        files["alignment trajectory"] = trajectory.with_name(ALIGNMENT_FILE)
    if last.is_file():
        files["checkpoint"] = last
    wandb_dir = run_dir / "wandb"
    if wandb_dir.exists():
        files["W&B (offline)"] = wandb_dir
    log_file = _job_log(run_dir)
    if log_file is not None:
        files["log"] = log_file
    if _is_rank_zero():
        say(result_table(metrics, status, files))
    return RunResult(status, metrics, run_dir, reason, files=files)


def _is_rank_zero() -> bool:
    """Only one process of a multi-process (DDP) run writes summary.json and prints the table."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0
