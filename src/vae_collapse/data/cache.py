"""All-or-nothing population of a data set's cache folder.

A fetch is built in a temporary sibling of the final folder (same file system,
so the final move is a rename) and every file is verified before anything
becomes visible. Whatever goes wrong, the temporary folder is removed, so the
cache never holds a half-written data set and a rerun starts clean.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import DataError

STAGING_PREFIX = ".partial-"

Builder = Callable[[Path, Path], None]
"""``build(out_dir, scratch_dir)``: write the files into out_dir; scratch_dir
holds downloads and is discarded."""

Verifier = Callable[[Path], None]
"""Raises DataError when the file at the path is not the expected one."""


def populate(final: Path, filenames: Sequence[str], build: Builder, verify: Verifier) -> None:
    """Build ``filenames`` in a staging folder, verify them, then move them into
    ``final``. Files already in ``final`` are kept (they were verified by the
    caller); only the missing ones are added."""
    # Absolute, because builders run tools (pip, dpkg-deb) inside the staging folder: a relative
    # cache folder would be looked up again from there.
    final = final.absolute()
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{final.name}-", dir=final.parent))
    except OSError as err:
        reason = ("a file is in the way where a folder should be" if isinstance(err, (FileExistsError, NotADirectoryError))
                  else err.strerror or err)
        raise DataError(f"{final.parent}: cannot write the data cache there ({reason}); "
                        "give a writable dataset.cache_dir (or set VAE_COLLAPSE_DATA)") from None
    try:
        out_dir, scratch = staging / "files", staging / "scratch"
        out_dir.mkdir()
        scratch.mkdir()
        build(out_dir, scratch)
        for name in filenames:
            path = out_dir / name
            if not path.is_file():
                raise DataError(f"{path}: the fetch did not produce this file")
            verify(path)
        _commit(out_dir, final, filenames)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(out_dir: Path, final: Path, filenames: Sequence[str]) -> None:
    if not final.exists():
        try:
            # One rename publishes the whole set at once.
            os.rename(out_dir, final)
            return
        except OSError:
            # Another process won the race; fall through and fill any gaps.
            pass
    final.mkdir(parents=True, exist_ok=True)
    for name in filenames:
        target = final / name
        if not target.exists() and not target.with_name(name + ".gz").exists():
            # Each file lands atomically, so a crash here leaves only whole,
            # verified files, and the next run fetches the rest.
            os.replace(out_dir / name, target)


def leftover_staging(root: Path) -> list[Path]:
    """Staging folders left in a cache root (only a killed process leaves any)."""
    return sorted(root.glob(f"{STAGING_PREFIX}*")) if root.is_dir() else []
