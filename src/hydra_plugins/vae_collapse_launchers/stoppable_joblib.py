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
- no job is handed out after the signal, and a worker is handed a job only when it is free
  (``pre_dispatch`` n_jobs, not the plugin's 2*n_jobs), so no queued job waits in a worker.

A second signal raises at once, as before: joblib then kills the workers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence

from hydra_plugins.vae_collapse_launchers import quiet_schema_warnings
from vae_collapse.training import interrupts

try:
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
except ImportError:  # without the pip extra `launchers`: hydra/launcher=joblib says so (cli._plugin_hint)
    JoblibLauncher = None

# The plugin's default; a value the user chose is kept.
_PLUGIN_PRE_DISPATCH = "2*n_jobs"


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


def signal_workers(signum: int) -> None:
    for process in worker_processes():
        try:
            os.kill(process.pid, signum)
        except OSError:
            pass  # already gone


if JoblibLauncher is not None:

    class StoppableJoblibLauncher(JoblibLauncher):
        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
            self.joblib["initializer"] = start_worker
            if self.joblib.get("pre_dispatch") == _PLUGIN_PRE_DISPATCH:
                self.joblib["pre_dispatch"] = "n_jobs"
            with interrupts.hold_for_workers(signal_workers):
                runs = super().launch(_UntilSignalled(job_overrides), initial_job_idx)
            reason = interrupts.received()
            if reason is not None:  # every started job has recorded it; main() counts them
                raise interrupts.RunInterrupted(reason, interrupts.EXIT_CODES[reason])
            return runs
