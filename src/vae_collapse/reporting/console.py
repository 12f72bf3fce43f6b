"""What a run tells the user: printed plainly, and kept in the run folder's log file.

Hydra's job logging gives every run `<job name>.log` beside summary.json (`cli.log` for the
console script). Its console handler only passes warnings (conf/hydra/default.yaml), so a line
logged at INFO here reaches that file and nothing else, while print() shows it on the terminal
without Hydra's "[time][logger][level]" prefix. Outside a Hydra job (vae-collapse-eval, tests)
the root logger has no handler for INFO and the line is only printed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

_LOG = logging.getLogger("vae_collapse")


def say(text: str, *, err: bool = False) -> None:
    """Print ``text`` (to stderr for warnings and errors) and keep it in the run's log file."""
    stream = sys.stderr if err else sys.stdout
    # One write per line: print() writes the text and its newline apart, and the lines of a sweep's
    # jobs that run side by side in one terminal would then run into each other.
    stream.write(text + "\n")
    stream.flush()
    keep(text)


def keep(text: str) -> None:
    """Only into the log file: for a line already printed in parts (a fetch's "... done")."""
    _LOG.info(text)


def stop_keeping_in(folder: Path) -> None:
    """Close the job's log files in ``folder`` and delete the ones still empty: a run refused
    for a folder that is not its own leaves nothing there, not even its log."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        path = Path(getattr(handler, "baseFilename", "") or "")
        if not isinstance(handler, logging.FileHandler) or path.parent != folder.resolve():
            continue
        root.removeHandler(handler)
        handler.close()
        try:
            if path.stat().st_size == 0:
                path.unlink()
        except OSError:
            pass



def ctrl_c_is_one_line(prog: str):
    """Decorate a command's main(): Ctrl-C ends it with one line and exit status 130, not a traceback.

    The files it had written stay (each is written whole: :mod:`vae_collapse.reporting.atomic`).
    """
    import functools

    def decorate(main):
        @functools.wraps(main)
        def run(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:
                print(f"{prog}: interrupted (Ctrl-C); the files written so far are kept", file=sys.stderr, flush=True)
                sys.exit(130)

        return run

    return decorate
