"""Checkpoints a run can be resumed or evaluated from.

Each checkpoint is a Lightning checkpoint plus a ``vae_collapse`` entry: the resolved config,
a fingerprint of the training data and the W&B run id, so a checkpoint alone says which run
it belongs to. Files are written to a temporary name in the same folder and renamed, so a
crash (even SIGKILL) leaves either the previous checkpoint or the new one, never half a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from vae_collapse.config import ConfigError
from vae_collapse.reporting.atomic import atomic_open
from vae_collapse.training.checkpoint_paths import (  # noqa: F401 - re-exported for the modules that load checkpoints
    CHECKPOINT_DIR, LAST, checkpoint_file, lead, missing_checkpoint, run_folder_of,
)
from vae_collapse.training.rng import rng_state, set_rng_state

PREVIOUS_SUFFIX = ".prev"
DIVERGED = "diverged.ckpt"
META_KEY = "vae_collapse"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointSettings:
    """When a run writes ``checkpoints/last.ckpt`` (config key ``checkpoint``)."""

    every_n_steps: int = 500  # also always at the end of training; 0: only at the end
    enabled: bool = True  # false: no checkpoints (then a run cannot be resumed or evaluated later)

    def __post_init__(self) -> None:
        if self.every_n_steps < 0:
            raise ValueError(f"every_n_steps={self.every_n_steps} must be >= 0 (0: only at the end)")


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file beside ``path``, fsync, then rename over it."""
    with atomic_open(path, "wb", sync=True) as handle:
        torch.save(obj, handle)


def previous_of(path: Path) -> Path:
    """Where the checkpoint that ``path`` replaced is kept: ``last.prev.ckpt`` beside ``last.ckpt``."""
    return path.with_name(f"{path.stem}{PREVIOUS_SUFFIX}{path.suffix}")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's own save stages the file in the system temp folder and *moves* it, which is a
    copy (not atomic) when that folder is on another file system; this one renames in place.

    The file it replaces is kept as ``last.prev.ckpt`` (a hard link, so no copy): a checkpoint is
    written right after a step, before anyone knows whether the new weights give a finite loss,
    so a run that diverges on the very next step falls back to the one before
    (:func:`keep_last_good_checkpoint`).
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        path = Path(path)
        if path.is_file():
            _replace_with_link(path, previous_of(path))
        atomic_torch_save(checkpoint, path)


def _replace_with_link(source: Path, target: Path) -> None:
    staging = target.with_name(f".{target.name}.tmp")
    staging.unlink(missing_ok=True)
    try:
        os.link(source, staging)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, staging)
    os.replace(staging, target)


def keep_last_good_checkpoint(last: Path, bad_step: int, resumed_from: Path | None = None) -> str:
    """After a non-finite loss at ``bad_step``: make ``last`` a checkpoint whose weights gave finite losses.

    Weights saved at ``bad_step`` are the ones whose loss was not finite; they move to
    ``diverged.ckpt`` (kept for inspection) and the checkpoint before them becomes ``last`` again.
    Returns the sentence for summary.json's reason. A run resumed into a new folder that
    diverges before its first save still has a good checkpoint: the one it started from.
    """
    if not last.is_file():
        if resumed_from is not None and Path(resumed_from).resolve() != last.resolve():
            return f"no checkpoint was written in this folder yet; the last good one is {resumed_from}, where it started"
        return "no checkpoint was written yet"
    step = int(torch.load(last, map_location="cpu", weights_only=True).get("global_step", -1))
    if step < bad_step:
        return f"last good checkpoint kept: {last} (step {step})"
    diverged = last.with_name(DIVERGED)
    os.replace(last, diverged)
    previous = previous_of(last)
    if not previous.is_file():
        return f"no good checkpoint (the weights of step {step} are in {diverged})"
    os.replace(previous, last)
    step = int(torch.load(last, map_location="cpu", weights_only=True).get("global_step", -1))
    return f"last good checkpoint kept: {last} (step {step}; the diverged weights are in {diverged})"


def data_fingerprint(data: torch.Tensor) -> str:
    """sha256 of the training tensor's shape, dtype and bytes: equal data, equal fingerprint."""
    data = data.detach().cpu().contiguous()
    digest = hashlib.sha256(f"{tuple(data.shape)}|{data.dtype}|".encode())
    if data.numel():  # hashed in place: a copy of the bytes would double the memory of a large data set
        digest.update(data.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


def check_same_data(meta: dict[str, Any], fingerprint: str, path: Path) -> None:
    """A checkpoint goes on (resume) or is measured (eval) only on the data it was trained on."""
    if meta.get("data_fingerprint") != fingerprint:
        raise ConfigError(f"{path}: was trained on other data (fingerprint {meta.get('data_fingerprint')}, "
                          f"the data now gives {fingerprint}); dataset.* or the data files changed")


def load_weights(target: torch.nn.Module, state_dict: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's weights; ones that do not fit the model its config builds are one line."""
    try:
        target.load_state_dict(state_dict, strict=True)
    except (RuntimeError, KeyError) as exc:
        detail = str(exc).strip().splitlines()[0][:200]
        raise ConfigError(f"{path}: its weights do not fit the model of its config ({detail})") from None


class RunMetadata(Callback):
    """Adds the run's identity to every checkpoint and carries the global torch RNG across a resume
    (stochastic ELBOs and the final IWAE draw from it)."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        # Which process holds the run: where a sweep job stalls or dies, this says what to look at.
        checkpoint[META_KEY] = {**self.meta, "host": socket.gethostname(), "pid": os.getpid()}

    def state_dict(self) -> dict[str, Any]:
        return rng_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        set_rng_state(state_dict)


class LoggingStepOfResumedRun(Callback):
    """Keeps Lightning's logging step equal to the global step after a resume.

    Lightning restores its count of batches that stepped one ahead when it assumes the checkpoint
    was written inside on_train_batch_end; the one earlier versions saved in on_train_end (see
    StepCheckpoint) is not, so a run resumed from it logged every metric one step late, and its last
    training row landed on the final metrics' step. Here each batch is one optimiser step
    (accumulate_grad_batches must be 1), so the two counts are the same number.
    """

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        loop = trainer.fit_loop.epoch_loop
        if getattr(loop, "_batches_that_stepped", trainer.global_step) != trainer.global_step:
            loop._batches_that_stepped = trainer.global_step


def make_run_metadata(config: dict, fingerprint: str, wandb_id: str | None,
                      wandb_names: tuple[str, str] | None = None) -> dict[str, Any]:
    """``wandb_names``: the run's W&B (group, name), which a resumed run keeps wherever it writes."""
    meta = {"format": FORMAT_VERSION, "config": config, "data_fingerprint": fingerprint, "wandb_id": wandb_id}
    if wandb_names is not None:
        meta["wandb_group"], meta["wandb_name"] = wandb_names
    return meta


class StepCheckpoint(ModelCheckpoint):
    """Lightning's checkpoint, saved also after the last step. Saving every n steps, Lightning would
    leave a run whose last step is no multiple of n with an earlier step's last.ckpt, which
    vae-collapse-eval would then measure instead of the final model.

    The last step is saved in on_train_batch_end, where the periodic ones are: by on_train_end,
    Lightning has counted the cut-short epoch as completed, and a run resumed from there counted
    its epochs one ahead of an uninterrupted run (metrics.csv's epoch, check_val_every_n_epoch).
    on_train_end still saves where that hook did not (a run stopped otherwise)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if _is_last_step(trainer, batch_idx):
            self.save_now(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self.save_now(trainer)

    def save_now(self, trainer) -> None:
        """last.ckpt at the step just finished (also used when a signal stops training between steps)."""
        if not self._should_skip_saving_checkpoint(trainer):  # skips a step already saved
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


def _is_last_step(trainer, batch_idx: int) -> bool:
    """Whether the step just taken is the run's last: max_steps reached, or the last batch of the last epoch."""
    if trainer.max_steps is not None and 0 <= trainer.max_steps <= trainer.global_step:
        return True
    last_epoch = trainer.max_epochs is not None and trainer.max_epochs > 0 and trainer.current_epoch + 1 >= trainer.max_epochs
    batches = trainer.num_training_batches
    return last_epoch and isinstance(batches, int) and batch_idx + 1 >= batches


def checkpoint_callback(run_dir: Path, settings: CheckpointSettings) -> StepCheckpoint:
    """``last.ckpt`` every ``every_n_steps`` steps and at the end, overwritten in place (no -v1 copies)."""
    checkpoint = StepCheckpoint(
        dirpath=str(run_dir / CHECKPOINT_DIR),
        save_top_k=0,
        save_last=True,
        every_n_train_steps=settings.every_n_steps or None,
        save_on_train_epoch_end=False,
        enable_version_counter=False,
    )
    return checkpoint


def _load_failure(exc: Exception) -> str:
    """torch's reason in a few words; its weights-only refusal is a paragraph around the real one."""
    text = str(exc).strip()
    if isinstance(exc, (KeyError, EOFError)):
        # torch's legacy reader on a file it did not write: KeyError('101') is the byte it choked on.
        return "not a file torch.save wrote, or cut short"
    if "Weights only load failed" in text:
        after = text.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
        reason = after[0].strip() if after and "WeightsUnpickler error:" in text else ""
        return f"torch refuses to unpickle it: {reason}" if reason else "torch refuses to unpickle it"
    first = text.splitlines()[0] if text else type(exc).__name__
    first = first.split(". ")[0].rstrip(".")  # torch's zip reader goes on with advice cut off mid-sentence
    return first if len(first) <= 160 else first[:157] + "..."


def read_checkpoint(path: Path, what: str) -> dict[str, Any]:
    """The whole checkpoint, loaded on the CPU; ``what`` names it in errors (e.g. ``resume=...``)."""
    missing = missing_checkpoint(path, what)
    if missing:
        raise ConfigError(missing)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or a pickle we refuse to run
        raise ConfigError(f"{lead(what, path)}{path} is not a readable checkpoint ({_load_failure(exc)})") from None
    meta = checkpoint.get(META_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or "config" not in meta or "state_dict" not in checkpoint:
        raise ConfigError(f"{lead(what, path)}{path} is not a vae-collapse checkpoint (it has no run config)")
    return checkpoint
