"""What a run does with what is already there: start, skip, resume, or refuse.

* ``resume=<run dir or .ckpt>`` continues that run: its config comes from the checkpoint, and
  only keys that do not change what is being fitted may be overridden (``trainer.*``, e.g. more
  ``max_steps``; ``logger``, ``eval``, ``checkpoint``, ``paths``, and ``dataset.root`` or
  ``dataset.cache_dir`` where the data has moved).
* An output folder that already holds a run (its ``summary.json`` or checkpoint) is reused only
  for the same run: completed -> skipped, interrupted -> resumed from its last checkpoint. That
  is what lets a crashed sweep be finished by re-running the same command. A different run
  there is refused, so earlier results are never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vae_collapse.config import ConfigError
from vae_collapse.config.batch_size import resolve_batch_size
from vae_collapse.reporting.summary import SUMMARY_FILE
from vae_collapse.config.keys import IDENTITY_IGNORED, RELOCATABLE_KEYS, without_keys
from vae_collapse.training.checkpoints import (
    CHECKPOINT_DIR, LAST, META_KEY, checkpoint_file, missing_checkpoint, read_checkpoint, run_folder_of,
)

# Roots a resumed run may override: how long and where it trains, and what it measures at the end.
RESUMABLE_ROOTS = ("trainer", "logger", "paths", "eval", "checkpoint", "resume")


@dataclass
class RunPlan:
    config: DictConfig  # the config to run (from the checkpoint when resuming)
    checkpoint: Path | None = None  # resume from this file
    meta: dict[str, Any] | None = None  # its vae_collapse entry
    loaded: dict[str, Any] | None = None  # the whole checkpoint
    skip: dict[str, Any] | None = None  # the completed summary.json: nothing to do
    elsewhere: Path | None = None  # the sweep job folder that holds the completed run, where it is not this one


def identity(config: dict) -> dict:
    """The config without the keys in IDENTITY_IGNORED."""
    return without_keys(config, IDENTITY_IGNORED)


def differences(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Every (dotted key, old value, new value) where two configs differ, in key order."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += differences(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{prefix}{key}.")
        return found
    return [] if old == new else [(prefix.rstrip("."), old, new)]


def first_difference(old: Any, new: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    found = differences(old, new, prefix)
    return found[0] if found else None


def _override_keys(overrides: list[str]) -> set[str]:
    return {_override_key(text).replace("/", ".").split("@")[0] for text in overrides}


def telling_differences(old: dict, new: dict, overrides: list[str], most: int = 2) -> str:
    """What tells two runs apart, for a message: the differing keys that a command line set first
    (seed, not the dataset.seed it feeds; model=..., not a batch size that follows from it), then
    the shallowest; at most ``most`` of them, as "key=old there, new here"."""
    given = _override_keys(overrides)

    def rank(found: tuple[str, Any, Any]) -> tuple:
        key = found[0]
        named = any(key == g or key.startswith(g + ".") or g.startswith(key + ".") for g in given)
        return (not named, key.count("."), key)

    ranked = sorted(differences(old, new), key=rank)
    parts = [f"{key}={a} there, {b} here" for key, a, b in ranked[:most]]
    more = len(ranked) - most
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _container(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _override_key(text: str) -> str:
    return text.split("=", 1)[0].lstrip("+~")


def resumed_config(cfg: DictConfig, saved: dict, overrides: list[str], what: str) -> DictConfig:
    """The checkpoint's config, with the command line's overrides of resumable keys applied."""
    merged = OmegaConf.create(saved)
    for text in overrides:
        key = _override_key(text)
        root = key.split(".")[0].split("/")[0].split("@")[0]
        if root == "hydra":
            continue
        key = key.replace("/", ".").split("@")[0]
        current = OmegaConf.select(cfg, key, default="<absent>")
        relocated = key in RELOCATABLE_KEYS and OmegaConf.select(merged, key, default="<absent>") != "<absent>"
        if root in RESUMABLE_ROOTS or relocated:
            OmegaConf.update(merged, key, _container(current), merge=False, force_add=True)
            continue
        before = OmegaConf.select(merged, key, default="<absent>")
        if current == "<absent>" or _container(current) != _container(before):
            shown = _container(before)
            # A whole group (dataset=celeba) is the run's own; printing its every key helps nobody.
            if before == "<absent>":
                had = f"no key {key}"
            elif isinstance(shown, (dict, list)) and key == root:
                had = f"its own {key} settings"
            else:
                had = f"{key}={shown}"
            raise ConfigError(_not_resumable(text, what, had, key))
    _follow_this_command(merged, cfg, WANDB_MODE_KEY)
    old_dir = OmegaConf.select(merged, "paths.output_dir", default=None)
    OmegaConf.update(merged, "paths", _container(cfg.paths), merge=False, force_add=True)
    OmegaConf.update(merged, "resume", cfg.resume, merge=False, force_add=True)
    if old_dir:
        merged = _rebased(merged, str(old_dir), str(cfg.paths.output_dir))
    return merged


# Saved resolved, it would keep the first part's $WANDB_MODE: where the logs go is the resuming
# command's choice (WANDB_MODE=disabled must not write W&B files), not a setting of the run.
WANDB_MODE_KEY = "logger.wandb.mode"


def _follow_this_command(merged: DictConfig, cfg: DictConfig, key: str) -> None:
    """Take ``key`` from this command's config where both configs have it."""
    current = OmegaConf.select(cfg, key, default="<absent>")
    if current != "<absent>" and OmegaConf.select(merged, key, default="<absent>") != "<absent>":
        OmegaConf.update(merged, key, _container(current), merge=False)


def _not_resumable(text: str, what: str, had: str, key: str) -> str:
    return (f"{text}: {what} continues a run with {had}; a resumed run can only change "
            f"{', '.join(r + '.*' for r in RESUMABLE_ROOTS[:-1])} and where its data lives "
            f"({', '.join(RELOCATABLE_KEYS)}) (start a new run to change {key})")


def not_resumable_override(text: str, resume: str) -> str | None:
    """The refusal for ``text`` (``key=value``) when Hydra could not even compose it beside
    ``resume=``: it was checked against the default config (noise=learned has no sigma2), while the
    resumed run has the key. Where there is no checkpoint, that is the line to give; None where
    the key may change in a resumed run, and where the run lacks the key too (a typo)."""
    key = _override_key(text)
    if key.split(".")[0] in RESUMABLE_ROOTS or key in RELOCATABLE_KEYS:
        return None
    checkpoint = checkpoint_file(resume)
    if not checkpoint.is_file():
        return missing_checkpoint(checkpoint, f"resume={resume}")
    run_dir = run_folder_of(checkpoint)
    summary = read_summary(run_dir) if run_dir is not None else None
    try:
        config = summary["config"] if summary else read_checkpoint(checkpoint, f"resume={resume}")[META_KEY]["config"]
    except (ConfigError, KeyError, TypeError):
        return None
    value = OmegaConf.select(OmegaConf.create(config), key, default="<absent>")
    if value == "<absent>":
        return None
    return _not_resumable(text, f"resume={resume}", f"{key}={_container(value)}", key)


def _rebased(config: DictConfig, old_dir: str, new_dir: str) -> DictConfig:
    """The saved config is resolved, so its loggers' ``save_dir`` still name the first run's folder:
    a run resumed into a new folder would write its CSV and W&B files over the first run's."""
    old = old_dir.rstrip("/")

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: move(item) for key, item in value.items()}
        if isinstance(value, list):
            return [move(item) for item in value]
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            return new_dir.rstrip("/") + value[len(old):]
        return value

    return OmegaConf.create(move(OmegaConf.to_container(config, resolve=False)))


def read_summary(run_dir: Path) -> dict | None:
    """A run folder's summary.json, or None where it has none (or none that holds a config)."""
    path = run_dir / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # written atomically, so only a hand-edited file can be unreadable
    return summary if isinstance(summary, dict) and isinstance(summary.get("config"), dict) else None


def resume_source(cfg: DictConfig, overrides: list[str]) -> tuple[DictConfig, Path | None, dict | None]:
    """With ``resume=``: the config to run (the checkpoint's, plus allowed overrides), the checkpoint
    file and its contents. Without: ``cfg`` unchanged."""
    if not cfg.get("resume"):
        return cfg, None, None
    what = f"resume={cfg.resume}"
    resolve_batch_size(cfg)  # the saved config holds the number `auto` became; compare like with like
    checkpoint = checkpoint_file(cfg.resume)
    loaded = read_checkpoint(checkpoint, what)
    return resumed_config(cfg, loaded[META_KEY]["config"], overrides, what), checkpoint, loaded


def completed_in_sweep(current: dict, sweep_dir: Path, run_dir: Path) -> tuple[Path, dict] | None:
    """Another job folder of the sweep that holds this run, completed: the folder a job gets is named
    by the keys its command sweeps, so the same run may sit under another name (an earlier command
    swept other keys, spelled a value otherwise, or is from a version that numbered its jobs)."""
    record = sweep_dir / "multirun.yaml"  # the sweeper writes it as each command starts
    began = record.stat().st_mtime if record.is_file() else float("inf")
    for summary_file in sorted(sweep_dir.glob(f"*/{SUMMARY_FILE}")):
        folder = summary_file.parent
        # Only earlier commands' runs: two jobs of one command that differ only in keys a run's
        # identity leaves out (a swept trainer.log_every_n_steps) both run, whichever finishes first.
        if folder.resolve() == run_dir.resolve() or summary_file.stat().st_mtime >= began:
            continue
        summary = read_summary(folder)
        if summary and summary.get("status") == "completed" and not first_difference(identity(summary["config"]), current):
            return folder, summary
    return None


def interrupted_in_sweep(current: dict, sweep_dir: Path, run_dir: Path) -> tuple[Path, dict] | None:
    """Another job folder of the sweep (see completed_in_sweep) that holds this run unfinished, with a
    checkpoint: (that checkpoint, its contents). Not one that failed or diverged: those run again."""
    record = sweep_dir / "multirun.yaml"
    began = record.stat().st_mtime if record.is_file() else float("inf")
    for last in sorted(sweep_dir.glob(f"*/{CHECKPOINT_DIR}/{LAST}")):
        folder = last.parents[1]
        if folder.resolve() == run_dir.resolve() or last.stat().st_mtime >= began:
            continue
        summary = read_summary(folder)
        if summary is not None and summary.get("status") != "interrupted":
            continue
        try:
            loaded = read_checkpoint(last, str(folder))
        except ConfigError:
            continue  # a damaged checkpoint is not worth failing this job for; it starts afresh
        if not first_difference(identity(loaded[META_KEY]["config"]), current):
            return last, loaded
    return None


def plan_folder(cfg: DictConfig, run_dir: Path, checkpoint: Path | None, loaded: dict | None,
                overrides: list[str] | None = None, sweep_dir: Path | None = None) -> RunPlan:
    """Decide what to do in ``run_dir`` given what is there. Called after the config is validated
    and built, so a bad value is reported as such and not as a clash with an earlier run.
    ``overrides`` (this command's) and the earlier run's say which difference to name first.
    ``sweep_dir``: the run is a job of that sweep, and is skipped where another of its job folders
    holds it completed."""
    meta = loaded[META_KEY] if loaded else None
    source_dir = run_folder_of(checkpoint) if checkpoint is not None and checkpoint.name == LAST else None
    current = identity(OmegaConf.to_container(cfg, resolve=True))
    summary = read_summary(run_dir)
    own_checkpoint = run_dir / CHECKPOINT_DIR / LAST
    existing = summary["config"] if summary else None
    own = None
    if own_checkpoint.is_file() and (checkpoint is None or summary is None):
        own = read_checkpoint(own_checkpoint, f"{run_dir}")
        existing = existing or own[META_KEY]["config"]
    found = completed_in_sweep(current, sweep_dir, run_dir) if sweep_dir is not None and checkpoint is None else None
    if existing is None:
        if (run_dir / SUMMARY_FILE).is_file():  # a damaged record is still a record: never write over it
            raise ConfigError(f"{run_dir / SUMMARY_FILE}: unreadable, so which run this folder holds is unknown; "
                              "choose a new output folder (hydra.run.dir=... or hydra.sweep.dir=...), or delete "
                              "that file to use this one")
        if found is not None:
            return RunPlan(cfg, skip=found[1], elsewhere=found[0])
        unfinished = interrupted_in_sweep(current, sweep_dir, run_dir) if sweep_dir is not None and checkpoint is None \
            else None
        if unfinished is not None:  # continued here, as resume= would, from where it stopped
            return RunPlan(cfg, unfinished[0], unfinished[1][META_KEY], unfinished[1])
        return RunPlan(cfg, checkpoint, meta, loaded)
    same_folder = source_dir is not None and source_dir.resolve() == run_dir.resolve()
    diff = first_difference(identity(existing), current)
    completed = bool(summary and summary.get("status") == "completed")
    if diff:
        given = [*(overrides or []), *((summary or {}).get("overrides") or [])]
        told = telling_differences(identity(existing), current, given)
        if not same_folder and found is not None:
            return RunPlan(cfg, skip=found[1], elsewhere=found[0])
        if not same_folder and sweep_dir is not None:
            raise ConfigError(f"{run_dir} already holds another run ({told}): this sweep names its job folders by "
                              "the keys it sweeps, which leave out the keys that differ; give those keys sweep "
                              "values too, or another folder (hydra.sweep.dir=...)")
        if not same_folder:
            resumable = f", or resume={run_dir} to continue that run" if own_checkpoint.is_file() else ""
            raise ConfigError(f"{run_dir} already holds another run ({told}); choose a new output "
                              f"folder (hydra.run.dir=... or hydra.sweep.dir=...){resumable}")
        if completed:  # continuing an unfinished run in its own folder is how a sweep is finished; not this
            raise ConfigError(f"{run_dir} holds a completed run ({told}): resumed in its own folder it would "
                              "replace that run's results; leave out hydra.run.dir, and the resumed run gets a "
                              "folder of its own beside it")
    if not diff and completed:
        return RunPlan(cfg, skip=summary)
    if checkpoint is None and own is not None:
        return RunPlan(cfg, own_checkpoint, own[META_KEY], own)
    return RunPlan(cfg, checkpoint, meta, loaded)


def is_completed(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a completed run (its summary.json says so)."""
    summary = read_summary(run_dir)
    return bool(summary and summary.get("status") == "completed")
