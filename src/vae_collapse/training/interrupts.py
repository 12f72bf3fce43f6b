"""Ctrl-C and SIGTERM, wherever in a run they arrive: a KeyboardInterrupt that remembers its signal.

Lightning handles the two only inside ``Trainer.fit`` (Ctrl-C becomes SystemExit(1), SIGTERM its
SIGTERMException at the end of an epoch), and a scheduler's SIGTERM during the final
measurements, or between the jobs of a sweep, would kill the process with nothing recorded.
Inside training a first signal is held until the step under way ends (:func:`defer`,
``graceful_stop``), so that the run stops with a checkpoint of a whole step.
"""

from __future__ import annotations

import os
import signal
import threading
import time

EXIT_CODES = {"Ctrl-C": 130, "SIGTERM": 143}  # the shell's 128 + signal number

_received: str | None = None
# Inside training a first signal waits for the step under way to end (see defer()).
_deferring = False
_pending: str | None = None
_pending_at = 0.0
_checkpointing = True  # whether the stop after the step saves one (the message says so)
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
        global _received, _pending, _pending_at
        _received = name
        if _deferring and _pending is None:
            _pending, _pending_at = name, time.monotonic()  # the training loop stops after this step
            # os.write, not print: a handler may run in the middle of another print
            kept = ", with a checkpoint" if _checkpointing else " (checkpoint.enabled=false: none is saved)"
            os.write(2, f"vae-collapse: {name}: stopping after the step under way{kept}; "
                        "again to stop at once\n".encode())
            return
        if _deferring and name == _pending and time.monotonic() - _pending_at < DUPLICATE_WINDOW_S:
            return  # the same signal delivered twice (a terminal's process group, then the sweep passing it on)
        raise KeyboardInterrupt(name)

    return handle


def install(forget: bool = True) -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt and remember which it was.

    ``forget``: start a new run with nothing received. Only the main thread can set handlers;
    elsewhere this does nothing.
    """
    global _received, _pending, _deferring
    if forget:
        _received = _pending = None
        _deferring = False
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, _handler("Ctrl-C"))
    signal.signal(signal.SIGTERM, _handler("SIGTERM"))


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
