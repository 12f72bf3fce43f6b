"""The end of a multirun: one line that counts the jobs by status and names the ones to look at.

A Hydra callback (conf/hydra/default.yaml), so it runs once in the launching process whatever
the launcher (basic, joblib, submitit). It reads every job folder's summary.json, so jobs run in
other processes or on other machines are counted too.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from vae_collapse.reporting.summary import REJECTED_FILE, SUMMARY_FILE

REJECTED = "rejected"
# Hydra's record of the sweep's command, in the sweep folder.
RECORD_FILE = "multirun.yaml"


@dataclass
class SweepOutcome:
    sweep_dir: Path
    statuses: dict[str, str] = field(default_factory=dict)  # job folder name -> status
    # Job folders this command did not touch: an earlier sweep's into the same folder, with other values.
    others: int = 0
    # Completed jobs that this command found completed before it started, and skipped.
    skipped: int = 0

    @property
    def all_completed(self) -> bool:
        # No job counted at all is no success either (jobs lost before their first line).
        return bool(self.statuses) and all(status == "completed" for status in self.statuses.values())


# The last sweep's outcome in this process; the console script exits non-zero when it is not all completed.
LAST: SweepOutcome | None = None
# The folder of the sweep under way, so that a launcher that crashes can still be reported on.
CURRENT_DIR: Path | None = None


def _status(job_dir: Path) -> str:
    # Bad input stopped the job's latest attempt (its error was printed); an earlier run's
    # summary.json may still be there, but it is not what this command asked for.
    if (job_dir / REJECTED_FILE).is_file():
        return REJECTED
    try:
        return str(json.loads((job_dir / SUMMARY_FILE).read_text()).get("status", "unknown"))
    except FileNotFoundError:
        return "no summary"  # killed before it could write one
    except (OSError, ValueError):
        return "unreadable summary"


def collect(sweep_dir: Path) -> SweepOutcome:
    """The jobs this command ran, skipped or refused (folders with Hydra's .hydra/), by status.

    The sweep folder may hold the jobs of earlier commands too (a sweep re-run with a value added):
    they are counted apart. Launcher state (hidden folders) is skipped.
    """
    outcome = SweepOutcome(sweep_dir)
    start = START if START is not None and START.sweep_dir == sweep_dir else None
    for marker in sorted(sweep_dir.rglob(".hydra")):
        job_dir = marker.parent
        if job_dir == sweep_dir or any(part.startswith(".") for part in job_dir.relative_to(sweep_dir).parts):
            continue
        if start is not None and not start.touched(job_dir):
            outcome.others += 1
            continue
        status = outcome.statuses[str(job_dir.relative_to(sweep_dir))] = _status(job_dir)
        if start is not None and status == "completed" and not start.written_since(job_dir / SUMMARY_FILE):
            outcome.skipped += 1
    return outcome


def describe(outcome: SweepOutcome, stopped: bool = False) -> str:
    """``stopped``: Ctrl-C or SIGTERM ended the sweep early, so jobs that never started are not counted."""
    counts = Counter(outcome.statuses.values())
    parts = [f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: kv[0] != "completed")]
    if outcome.skipped and parts:
        parts[0] += f" ({outcome.skipped} of them before, so skipped)"
    n = len(outcome.statuses)
    line = (f"vae-collapse: sweep {outcome.sweep_dir}{' (stopped)' if stopped else ''}: {n} job{'' if n == 1 else 's'}"
            f"{' started' if stopped else ''}: {', '.join(parts) or 'none'}")
    if outcome.others:
        line += f"; {outcome.others} earlier job{'' if outcome.others == 1 else 's'} in the folder, not counted"
    settled = ("completed", REJECTED, "failed", "diverged")
    others = [f"{job} ({status})" for job, status in outcome.statuses.items() if status not in settled]
    if others:
        line += "; not completed: " + _listed(others) + "; re-run the same command to finish them"
    if stopped:  # how many never started is the sweeper's to know; a re-run runs them
        line += " (and any jobs that had not started)" if others else \
            "; re-run the same command to run any jobs that had not started"
    for status, advice in (("failed", "each job's traceback.txt says why; a re-run tries them again"),
                           ("diverged", "a re-run repeats the same seed and settings, so change them, e.g. a lower "
                                        "optimizer.lr")):
        jobs = [job for job, s in outcome.statuses.items() if s == status]
        if jobs:
            line += f"; {status}: {_listed(jobs)} ({advice})"
    rejected = [job for job, status in outcome.statuses.items() if status == REJECTED]
    if rejected:
        line += (f"; rejected by bad input: {_listed(rejected)} "
                 f"(the error is above and in each job's {REJECTED_FILE}; fix the override and re-run)")
    return line


def _listed(jobs: list[str]) -> str:
    # Job folders are named by their values (noise.sigma2=1.0,seed=0): where a name has a comma,
    # brackets keep one job apart from the next.
    if any("," in job for job in jobs):
        jobs = [f"[{job}]" for job in jobs]
    return ", ".join(jobs[:10]) + (" ..." if len(jobs) > 10 else "")


@dataclass
class SweepStart:
    """What the sweep folder held before this command: Hydra writes its multirun.yaml over the
    earlier sweep's before any job runs, also for a command that bad input then stops."""

    sweep_dir: Path
    started: float
    record: bytes | None  # the earlier multirun.yaml; None where there was none
    job_log: str  # each job's log file name (<hydra.job.name>.log): every attempt at a job writes a line

    def touched(self, job_dir: Path) -> bool:
        """Whether this command tried the job: its log has a line written since the command started."""
        return self.written_since(job_dir / self.job_log)

    def written_since(self, path: Path) -> bool:
        try:
            # File times come from a coarse clock that may lag time.time() by a tick; an earlier
            # command's last line is seconds older (this one had to start Python and compose first).
            return path.stat().st_mtime >= self.started - 0.5
        except OSError:
            return False


START: SweepStart | None = None


def keep_earlier_record(sweep_dir: Path, outcome: SweepOutcome | None) -> None:
    """Where a command changed nothing (every job it tried was refused as bad input, or its jobs could
    not even be composed), the sweep folder gets its earlier multirun.yaml back, or, where it had
    none, loses the one this command made (and so does the folder, if that was all it held)."""
    start = START
    if start is None:
        return
    tried = outcome.statuses if outcome is not None else {}
    if any(status != REJECTED for status in tried.values()):
        return
    record = sweep_dir / RECORD_FILE
    try:
        if start.record is not None:
            record.write_bytes(start.record)
        elif not tried:
            record.unlink(missing_ok=True)
            if sweep_dir.is_dir() and not any(sweep_dir.iterdir()):
                sweep_dir.rmdir()
    except OSError:
        pass  # tidying up must never hide the error the user needs to see


class SweepReport(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        global CURRENT_DIR, START
        CURRENT_DIR = Path(config.hydra.sweep.dir)
        record = CURRENT_DIR / RECORD_FILE
        START = SweepStart(CURRENT_DIR, time.time(), record.read_bytes() if record.is_file() else None,
                           f"{config.hydra.job.name}.log")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global LAST
        LAST = collect(Path(config.hydra.sweep.dir))
        keep_earlier_record(Path(config.hydra.sweep.dir), LAST)
        print(describe(LAST), file=sys.stdout if LAST.all_completed else sys.stderr, flush=True)
