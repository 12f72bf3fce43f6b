"""Ctrl-C and SIGTERM, wherever in a run they arrive: a KeyboardInterrupt that remembers its signal.

Lightning handles the two only inside ``Trainer.fit`` (Ctrl-C becomes SystemExit(1), SIGTERM its
SIGTERMException at the end of an epoch), and a scheduler's SIGTERM during the final
measurements, or between the jobs of a sweep, would kill the process with nothing recorded.
Inside training a first signal is held until the step under way ends (:func:`defer`,
``graceful_stop``), so that the run stops with a checkpoint of a whole step.

A joblib sweep's processes (``hydra_plugins.vae_collapse_launchers``) play by two more rules. The
sweep's own process
holds a first signal while its workers stop their jobs (:func:`hold_for_workers`): raising there
would make joblib kill the workers mid-step. A worker (:func:`become_pool_worker`) only notes a
signal that arrives between its jobs, since dying there would make loky kill the others.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

EXIT_CODES = {"Ctrl-C": 130, "SIGTERM": 143}  # the shell's 128 + signal number

_received: str | None = None
_received_at = 0.0
# Inside training a first signal waits for the step under way to end (see defer()).
_deferring = False
_pending: str | None = None
_checkpointing = True  # whether the stop after the step saves one (the message says so)
# In a joblib sweep's own process: what a held signal is passed on to (see hold_for_workers()).
_forward: Callable[[int], None] | None = None
# In a joblib worker (see become_pool_worker()): whether one of its jobs is running a run.
_pool_worker = False
_in_run = False
# A joblib sweep's own process once its jobs have stopped: nothing is left to stop (see note_only()).
_note_only = False
# A second signal this soon after the first is the same one arriving twice: Ctrl-C reaches a joblib
# worker from the terminal and again from the sweep's process; a person's second press comes later.
DUPLICATE_WINDOW_S = 1.0


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``reason`` is ``Ctrl-C`` or ``SIGTERM``.

    Picklable with both fields, so a job in a joblib worker can hand it to the sweep's process.
    """

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason, self.exit_code = reason, exit_code

    def __reduce__(self):
        return type(self), (self.reason, self.exit_code)


def _handler(name: str):
    def handle(signum, frame) -> None:
        global _received, _received_at, _pending
        now = time.monotonic()
        # Only where a copy can arrive: a joblib worker, or a run or sweep that holds its first signal.
        may_be_a_copy = _pool_worker or _deferring
        if may_be_a_copy and name == _received and now - _received_at < DUPLICATE_WINDOW_S:
            return  # the same signal delivered twice (a terminal's process group, then the sweep passing it on)
        _received, _received_at = name, now
        if (_pool_worker and not _in_run) or _note_only:
            return  # a worker between jobs (the sweep's process decides), or a sweep already stopped
        if _deferring and _pending is None:
            _pending = name  # the training loop, or the sweep's workers, stop after the step under way
            # os.write, not print: a handler may run in the middle of another print
            if _forward is not None:
                os.write(2, f"vae-collapse: {name}: the sweep stops once its running jobs have stopped, each "
                            "after its step under way; no new job starts; again to stop at once\n".encode())
                _forward(signum)
                return
            kept = ", with a checkpoint" if _checkpointing else " (checkpoint.enabled=false: none is saved)"
            os.write(2, f"vae-collapse: {name}: stopping after the step under way{kept}; "
                        "again to stop at once\n".encode())
            return
        raise KeyboardInterrupt(name)

    return handle


def install(forget: bool = True) -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt and remember which it was.

    ``forget``: start a new run with nothing received. Only the main thread can set handlers;
    elsewhere this does nothing.
    """
    global _received, _pending, _deferring, _forward, _in_run, _note_only
    if forget:
        _received = _pending = _forward = None
        _deferring = _note_only = False
        _in_run = True
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, _handler("Ctrl-C"))
    signal.signal(signal.SIGTERM, _handler("SIGTERM"))


def run_over() -> None:
    """The run has ended and recorded how: in a joblib worker a signal is only noted from here on."""
    global _in_run
    _in_run = False


def become_pool_worker() -> None:
    """joblib's initializer for each worker process of a sweep (see hydra_plugins.vae_collapse_launchers)."""
    global _pool_worker, _in_run, _received
    _pool_worker, _in_run, _received = True, False, None
    install(forget=False)


def note_only() -> None:
    """From now on a signal is only noted: a joblib sweep whose jobs have all stopped has nothing
    left to stop, and raising would cut into its count of the jobs or into loky's exit."""
    global _note_only
    _note_only = True


def in_pool_worker() -> bool:
    """Whether this process is a joblib worker: its jobs return when interrupted instead of raising,
    since joblib answers a job's exception by killing every worker."""
    return _pool_worker


@contextmanager
def hold_for_workers(forward: Callable[[int], None]) -> Iterator[None]:
    """In a joblib sweep's own process: a first signal is passed to the workers with ``forward`` and
    held, so that joblib waits for their jobs to stop and record it; a second raises at once."""
    global _deferring, _forward, _pending
    _deferring, _forward, _pending = True, forward, None
    try:
        yield
    finally:
        _deferring, _forward = False, None


def received() -> str | None:
    """The signal that arrived since :func:`install`, if any."""
    return _received


def defer(on: bool, checkpointing: bool = True) -> None:
    """While on, a first signal does not interrupt: it is held (see :func:`pending`) for the
    training loop to stop at the end of its step, with a checkpoint of that step, instead of in
    the middle of an optimiser update. Off, signals interrupt at once again; one already held
    stays pending, for the run to act on where it can stop safely."""
    global _deferring, _checkpointing
    _deferring, _checkpointing = on, checkpointing


def pending() -> str | None:
    """The signal held while deferring, if one arrived: the caller should stop as soon as it can."""
    return _pending
