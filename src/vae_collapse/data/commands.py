"""Running the package managers that fetch data sets."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from .errors import FetchError

# Generous: a slow link needs a while for ~30 MB, but a hung mirror must not
# block a run forever.
TIMEOUT_S = 900


def run_command(
    cmd: Sequence[str], cwd: Path, label: str | None = None, timeout_s: float = TIMEOUT_S
) -> None:
    """Run ``cmd`` quietly; on failure raise FetchError with its last error line.

    Output is captured because pip and apt print warnings that are noise when
    the fetch works; when it fails, the last line is usually the real reason.
    ``label`` is the short form of the command shown to users.
    """
    shown = label or " ".join(cmd)
    try:
        result = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout_s
        )
    except FileNotFoundError as err:
        raise FetchError(f"`{cmd[0]}` is not installed") from err
    except subprocess.TimeoutExpired as err:
        raise FetchError(f"`{shown}` timed out after {timeout_s:.0f} s") from err
    if result.returncode != 0:
        lines = [ln.strip() for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.upper().startswith(("ERROR", "E:"))]
        reason = (errors or lines or ["no output"])[-1]
        raise FetchError(f"`{shown}` failed (exit {result.returncode}): {reason}")
