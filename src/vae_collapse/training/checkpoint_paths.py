"""Where a run keeps its checkpoints, without importing torch.

The console scripts and the report use these to find (or fail to find) a checkpoint before
they pay for loading torch and Lightning.
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT_DIR = "checkpoints"
LAST = "last.ckpt"


def checkpoint_file(where: str | Path) -> Path:
    """A run folder's ``checkpoints/last.ckpt`` (also given its checkpoints/ folder), or ``where`` itself when it is a file."""
    path = Path(where).expanduser()
    if path.is_file():
        return path
    # The run's own checkpoints/ folder (not a run folder that happens to have that name).
    if path.name == CHECKPOINT_DIR and path.is_dir() and not (path / ".hydra").is_dir():
        return path / LAST
    return path / CHECKPOINT_DIR / LAST


def run_folder_of(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint belongs to (``<run>/checkpoints/*.ckpt``); None for a file kept elsewhere."""
    return checkpoint.parent.parent if checkpoint.parent.name == CHECKPOINT_DIR else None


def lead(what: str, *paths: Path) -> str:
    """``what: `` before an error about ``paths``, unless ``what`` is one of them (eval's bare path)."""
    return "" if any(Path(what).expanduser() == path for path in paths) else f"{what}: "


def missing_checkpoint(path: Path, what: str) -> str | None:
    """The one-line error for a checkpoint that is not there (``what`` names it, e.g. ``resume=...``)."""
    if path.is_file():
        return None
    folder = path.parent.parent if path.name == LAST and path.parent.name == CHECKPOINT_DIR else None
    if folder is not None and (folder / "multirun.yaml").is_file():  # Hydra's record of a sweep
        return (f"{lead(what, folder, path)}{folder} is a sweep's folder; name one of its job folders, or run the "
                "sweep's command again to finish its unfinished jobs")
    ended = _how_it_ended(folder) if folder is not None else None
    if ended:
        return f"{what}: no checkpoint at {path}: {ended}"
    return f"{what}: no checkpoint at {path} (a run folder with {CHECKPOINT_DIR}/{LAST}, or a .ckpt file)"


def _how_it_ended(folder: Path) -> str | None:
    """How a run folder's run ended where it left no checkpoint (stopped early, or checkpoint.enabled=false)."""
    import json

    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    status = summary.get("status") if isinstance(summary, dict) else None
    if status not in ("failed", "diverged", "interrupted"):
        return None
    reason = summary.get("reason")
    text = f"the run {status} without leaving one" + (f" ({reason})" if reason else "")
    return text + ("; run its command again to start it over" if status == "interrupted" else "")
