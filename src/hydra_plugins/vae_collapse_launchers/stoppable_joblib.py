"""``hydra/launcher=joblib`` (conf/hydra/launcher/joblib.yaml): sweeps that stop on Ctrl-C or
SIGTERM as the sequential launcher's do.

The plugin's launcher loses work on a signal: the sweep's own process raises at once, and joblib
answers by killing its workers, mid-step and before their summaries (the same happens when one
job raises, or when a worker process dies). This subclass runs the same jobs the same way, with
three changes:

- the sweep's process holds a first signal and passes it on to the workers
  (:func:`interrupts.hold_for_workers`), then waits for their jobs to end;
- each worker starts with :func:`start_worker`: a signal between its jobs is only noted, and an
  interrupted job returns instead of raising (``cli._app``);
- no job is handed out after the signal, and a job that joblib had already taken from the list
  (it looks up to n_jobs ahead) does not start: the sweep's process leaves a marker in the sweep
  folder (:func:`stopping`) that the worker checks before the job's run.

A second signal raises at once, as before: joblib then kills the workers.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from hydra_plugins.vae_collapse_launchers import quiet_schema_warnings
from vae_collapse.training import interrupts

try:
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
except ImportError:  # without the pip extra `launchers`: hydra/launcher=joblib says so (cli._plugin_hint)
    JoblibLauncher = None

# The plugin's defaults; values the user chose are kept.
_PLUGIN_PRE_DISPATCH = "2*n_jobs"
_PLUGIN_BATCH_SIZE = "auto"


class _UntilSignalled(list):
    """The jobs of a batch, handed out one by one until a signal arrives (joblib reads them lazily)."""

    def __iter__(self) -> Iterator:
        for job in super().__iter__():
            if interrupts.received() is not None:
                return
            yield job


def start_worker() -> None:
    """joblib's initializer for each worker process."""
    quiet_schema_warnings()
    interrupts.become_pool_worker()


def worker_processes() -> list:
    """The loky worker processes of this process's joblib sweep (none when there is none)."""
    if "joblib" not in sys.modules:
        return []
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    return list((getattr(executor, "_processes", None) or {}).values())


def _has_our_handlers(pid: int) -> bool:
    """Whether a worker has run :func:`start_worker`: one still starting up would die of the signal,
    and loky answers a dead worker by killing the others. Linux tells by the SIGTERM handler it set
    (/proc's SigCgt mask); elsewhere every worker is taken to be ready."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), None)
    return caught is None or bool(int(caught, 16) >> (signal.SIGTERM - 1) & 1)


def signal_workers(signum: int) -> None:
    for process in worker_processes():
        if not _has_our_handlers(process.pid):
            continue  # a terminal's Ctrl-C reaches it anyway; it has no job yet
        try:
            os.kill(process.pid, signum)
        except OSError:
            pass  # already gone


def _marker(sweep_dir: Path, pid: int) -> Path:
    # Named by the sweep's process: a marker left by one that was killed outright stops nothing later.
    return sweep_dir / f".stopping-{pid}"


def stopping() -> bool:
    """In a joblib worker, before a job's run: whether the sweep's process has been told to stop."""
    if not interrupts.in_pool_worker():
        return False
    from hydra.core.hydra_config import HydraConfig

    return _marker(Path(str(HydraConfig.get().sweep.dir)), os.getppid()).exists()


if JoblibLauncher is not None:

    class StoppableJoblibLauncher(JoblibLauncher):
        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
            self.joblib["initializer"] = start_worker
            if self.joblib.get("pre_dispatch") == _PLUGIN_PRE_DISPATCH:
                self.joblib["pre_dispatch"] = "n_jobs"
            if str(self.joblib.get("batch_size")) == _PLUGIN_BATCH_SIZE:
                self.joblib["batch_size"] = 1  # auto grows batches of quick jobs (skipped ones): they would queue
            marker = _marker(Path(str(self.config.hydra.sweep.dir)), os.getpid())

            def stop(signum: int) -> None:
                try:
                    marker.touch()
                except OSError:
                    pass  # the jobs already handed out still run; the signal still reaches the running ones
                signal_workers(signum)

            try:
                with interrupts.hold_for_workers(stop):
                    runs = super().launch(_UntilSignalled(job_overrides), initial_job_idx)
            finally:
                marker.unlink(missing_ok=True)
            reason = interrupts.received()
            if reason is not None:  # every started job has recorded it; main() counts them
                interrupts.note_only()
                raise interrupts.RunInterrupted(reason, interrupts.EXIT_CODES[reason])
            return runs
