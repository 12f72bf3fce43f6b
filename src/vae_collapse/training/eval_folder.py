"""Where ``vae-collapse-eval`` may write, and what it leaves there.

A measurement goes into a new or empty folder, or one holding an earlier measurement of the same
run (eval.json), which it replaces. Never into a folder of other files (a run's csv/ or
checkpoints/, the user's own), nor into another run's folder: the report reads
``<run>/eval/eval.json`` as that run's. eval.json lists the files it came with, so a measurement
made again removes the earlier one's files that it no longer writes (a figure turned off, a
residual spectrum not measured) and the folder never shows numbers eval.json does not describe.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vae_collapse.config import ConfigError
from vae_collapse.training.checkpoint_paths import run_folder_of
from vae_collapse.training.hydra_files import holds_a_run

RESULTS = "eval.json"


def earlier_measurement(out: Path) -> dict[str, Any] | None:
    """The eval.json in ``out`` where it is a measurement's (it names a checkpoint), else None."""
    try:
        found = json.loads((out / RESULTS).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("checkpoint"), str) else None


def run_key(meta: dict[str, Any]) -> str:
    """Which run a checkpoint belongs to, wherever its folder is now: its config and its data."""
    text = json.dumps(meta.get("config"), sort_keys=True, default=str) + str(meta.get("data_fingerprint"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _same_run(earlier: dict[str, Any], checkpoint: Path, key: str) -> bool:
    if isinstance(earlier.get("run_key"), str):
        return earlier["run_key"] == key
    a, b = Path(earlier["checkpoint"]), checkpoint  # an eval.json written before run_key
    run_a, run_b = run_folder_of(a), run_folder_of(b)
    if run_a is None or run_b is None:
        return a.resolve() == b.resolve()
    return run_a.resolve() == run_b.resolve()


def check_out(out: Path, checkpoint: Path, run_dir: Path | None, key: str) -> None:
    """Refuse, in one line, a folder the measurement may not write into (see the module's rule)."""
    if run_dir is not None and out.resolve() == (run_dir / "eval").resolve():
        return  # the run's own: whatever is there was measured from it (also after the run folder moved)
    default = f" (default: {run_dir / 'eval'})" if run_dir else ""
    if (run_dir is not None and out.resolve() == run_dir.resolve()) or holds_a_run(out):
        raise ConfigError(f"--out {out}: is a run folder, whose own files the measurements would overwrite; "
                          f"give another folder{default}")
    owner = next((p for p in out.resolve().parents if holds_a_run(p)), None)
    if owner is not None and (run_dir is None or owner != run_dir.resolve()):
        raise ConfigError(f"--out {out}: is inside the folder of another run ({owner}), where a measurement "
                          f"of this one would pass for that run's; give another folder{default}")
    if not out.is_dir():
        return
    earlier = earlier_measurement(out)
    if earlier is not None:
        if not _same_run(earlier, checkpoint, key):
            raise ConfigError(f"--out {out}: holds the measurement of another run's checkpoint "
                              f"({earlier['checkpoint']}); give another folder{default}")
        return
    others = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir())
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise ConfigError(f"--out {out}: holds files that are not a measurement's ({shown}), which the "
                          f"measurement's files could replace; give a new or empty folder{default}")


def mark_measuring(out: Path, checkpoint: Path, key: str, earlier: dict[str, Any] | None) -> None:
    """An eval.json without numbers while the measurement runs: one stopped half-way leaves a folder
    that the next measurement still knows as its own (and whose files it may replace)."""
    from vae_collapse.reporting.summary import write_json_atomic

    files = earlier.get("files") if earlier and isinstance(earlier.get("files"), list) else []
    # abspath: no "..", and a run reached through a link keeps the path it was given
    write_json_atomic(out / RESULTS, {"checkpoint": os.path.abspath(checkpoint), "run_key": key, "status": "measuring",
                                      "files": files, "metrics": {}})


def remove_stale(out: Path, earlier: dict[str, Any] | None, written: list[Path]) -> None:
    """Delete the files the earlier measurement listed that this one did not write (only inside ``out``)."""
    names = earlier.get("files") if earlier else None
    if not isinstance(names, list):
        return
    now = {p.resolve() for p in written}
    inside = out.resolve()
    for name in map(str, names):
        path = (out / name).resolve()
        if inside in path.parents and path not in now:
            path.unlink(missing_ok=True)
