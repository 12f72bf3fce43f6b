"""Write a file so that a crash never leaves half of it behind a valid-looking name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "w", sync: bool = False, **open_kwargs) -> Iterator[IO]:
    """``with atomic_open(path) as handle: ...`` writes a temporary file beside ``path`` and renames
    it over ``path`` only when the block ends without an exception.

    The temporary file lives in the target's folder because a rename is atomic only within one
    file system. ``sync`` flushes it to disk first (checkpoints: a power cut must not leave a
    renamed but empty file). Files get 0644 (mkstemp's 0600 would hide outputs from a group).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path | str, text: str) -> None:
    """``path.write_text(text)``, never seen half-written (a sweep's count reads rejected.txt)."""
    with atomic_open(path) as handle:
        handle.write(text)
