"""Ctrl-C and SIGTERM become one exception that says which, and survives a trip to a sweep's process;
inside training the first one is held until the step ends, and a second stops at once."""

from __future__ import annotations

import os
import pickle
import signal

import pytest

from vae_collapse.training import interrupts
from vae_collapse.training.run import _interruption


@pytest.fixture
def handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    interrupts.install()  # nothing received, held or deferred for the next test
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_run_interrupted_in_a_worker_reaches_the_sweep_whole():
    again = pickle.loads(pickle.dumps(interrupts.RunInterrupted("SIGTERM", 143)))
    assert isinstance(again, KeyboardInterrupt) and (again.reason, again.exit_code) == ("SIGTERM", 143)


def test_sigterm_is_remembered_wherever_it_arrives(handlers):
    interrupts.install()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.01)  # let the handler run here
    assert interrupts.received() == "SIGTERM"
    # Lightning's SystemExit(1) after it caught the KeyboardInterrupt is the same interruption.
    assert _interruption(SystemExit(1)) == "SIGTERM"
    interrupts.install()  # a new run forgets it
    assert interrupts.received() is None


def test_a_system_exit_without_a_signal_is_not_an_interruption(handlers):
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    interrupts.install()
    assert _interruption(SystemExit(0)) is None
    assert _interruption(KeyboardInterrupt()) == "Ctrl-C"
    assert _interruption(SIGTERMException()) == "SIGTERM"


def _signal(sig) -> None:
    os.kill(os.getpid(), sig)
    signal.sigtimedwait([], 0.01)  # let the handler run here


def test_outside_training_a_signal_stops_at_once(handlers):
    interrupts.install()
    with pytest.raises(KeyboardInterrupt):
        _signal(signal.SIGTERM)
    assert interrupts.received() == "SIGTERM" and interrupts.pending() is None


def test_in_training_the_first_signal_is_held_and_a_second_stops_at_once(handlers):
    interrupts.install()
    interrupts.defer(True)
    _signal(signal.SIGINT)  # no exception: the loop stops at the end of its step
    assert interrupts.pending() == "Ctrl-C" and interrupts.received() == "Ctrl-C"
    with pytest.raises(KeyboardInterrupt):
        _signal(signal.SIGTERM)
    assert interrupts.received() == "SIGTERM"


def test_a_held_signal_stays_pending_once_training_is_over_and_the_next_stops_at_once(handlers, monkeypatch):
    interrupts.install()
    interrupts.defer(True)
    _signal(signal.SIGTERM)
    interrupts.defer(False)
    assert interrupts.pending() == "SIGTERM"  # the run checks it where it can stop safely
    monkeypatch.setattr(interrupts, "DUPLICATE_WINDOW_S", 0.0)  # a second signal, not the first one twice
    with pytest.raises(KeyboardInterrupt):
        _signal(signal.SIGTERM)
    interrupts.install()
    assert interrupts.pending() is None and interrupts.received() is None  # a new run starts clean


def test_the_same_signal_twice_at_once_is_one_signal(handlers, monkeypatch, capfd):
    interrupts.install()
    interrupts.defer(True)
    _signal(signal.SIGINT)
    _signal(signal.SIGINT)  # a terminal's Ctrl-C, then the sweep passing it on to its worker
    assert interrupts.pending() == "Ctrl-C"
    assert "Ctrl-C: stopping after the step under way" in capfd.readouterr().err
    monkeypatch.setattr(interrupts, "DUPLICATE_WINDOW_S", 0.0)  # a person's second press
    with pytest.raises(KeyboardInterrupt):
        _signal(signal.SIGINT)


@pytest.fixture
def pool_worker(handlers, monkeypatch):
    """This process as a joblib worker, for one test."""
    monkeypatch.setattr(interrupts, "_pool_worker", False)
    monkeypatch.setattr(interrupts, "_in_run", False)
    interrupts.become_pool_worker()
    return monkeypatch


def test_a_joblib_worker_only_notes_a_signal_between_jobs_and_its_next_job_still_runs(pool_worker):
    assert interrupts.in_pool_worker()
    _signal(signal.SIGINT)  # no exception: loky would answer a dead worker by killing the others
    assert interrupts.received() == "Ctrl-C"
    # A signal to this worker alone stops nothing later; the sweep's process decides (stoppable_joblib.stopping).
    interrupts.install()
    assert interrupts.received() is None


def test_a_joblib_workers_run_stops_on_a_signal_once_and_once_over_only_notes_one(pool_worker):
    interrupts.install()  # a job's run starts, in its final measurements
    with pytest.raises(KeyboardInterrupt):
        _signal(signal.SIGTERM)
    _signal(signal.SIGTERM)  # the copy the sweep's process passes on must not cut into the job's summary
    interrupts.run_over()
    pool_worker.setattr(interrupts, "DUPLICATE_WINDOW_S", 0.0)
    _signal(signal.SIGINT)
    assert interrupts.received() == "Ctrl-C"


def test_a_joblib_worker_skips_its_job_only_when_its_own_sweep_is_stopping(pool_worker, tmp_path):
    from types import SimpleNamespace

    from hydra.core.hydra_config import HydraConfig

    from hydra_plugins.vae_collapse_launchers import stoppable_joblib

    pool_worker.setattr(HydraConfig, "get", staticmethod(lambda: SimpleNamespace(sweep=SimpleNamespace(dir=str(tmp_path)))))
    assert not stoppable_joblib.stopping()
    (tmp_path / f".stopping-{os.getppid() + 100000}").touch()  # left by another sweep process, killed outright
    assert not stoppable_joblib.stopping()
    (tmp_path / f".stopping-{os.getppid()}").touch()
    assert stoppable_joblib.stopping()
    pool_worker.setattr(interrupts, "_pool_worker", False)
    assert not stoppable_joblib.stopping()  # a sequential launcher's job in the sweep's own process


def test_a_joblib_sweeps_own_process_passes_a_first_signal_on_and_holds_it(handlers, monkeypatch, capfd):
    passed_on = []
    interrupts.install()
    with interrupts.hold_for_workers(passed_on.append):
        _signal(signal.SIGTERM)  # no exception: joblib would kill the workers mid-step
        _signal(signal.SIGTERM)  # the same one again (a scheduler signals the whole process group)
        assert passed_on == [signal.SIGTERM] and interrupts.received() == "SIGTERM"
        assert "SIGTERM: the sweep stops once its running jobs have stopped" in capfd.readouterr().err
        monkeypatch.setattr(interrupts, "DUPLICATE_WINDOW_S", 0.0)
        with pytest.raises(KeyboardInterrupt):
            _signal(signal.SIGINT)  # a second signal: stop at once
    with pytest.raises(KeyboardInterrupt):
        _signal(signal.SIGINT)  # after the sweep's jobs, signals raise again
    assert passed_on == [signal.SIGTERM]
    interrupts.note_only()  # once its jobs have stopped, the sweep only counts them: nothing to interrupt
    _signal(signal.SIGINT)
    interrupts.install()
    with pytest.raises(KeyboardInterrupt):
        _signal(signal.SIGTERM)


def test_without_checkpoints_the_held_signal_does_not_promise_one(handlers, capfd):
    interrupts.install()
    interrupts.defer(True, checkpointing=False)
    _signal(signal.SIGTERM)
    err = capfd.readouterr().err
    assert "SIGTERM: stopping after the step under way (checkpoint.enabled=false: none is saved)" in err
    interrupts.install()
    interrupts.defer(True)
    _signal(signal.SIGTERM)
    assert "stopping after the step under way, with a checkpoint" in capfd.readouterr().err


def test_a_signal_held_while_the_step_failed_still_stops_the_sweep(handlers):
    from vae_collapse.cli import _stop_sweep_if_signalled

    interrupts.install()
    _stop_sweep_if_signalled()  # nothing received: the sweep goes on to its next job
    interrupts.defer(True)
    _signal(signal.SIGTERM)
    interrupts.defer(False)  # the step raised; Lightning's on_exception ended the deferral
    with pytest.raises(interrupts.RunInterrupted) as stopped:
        _stop_sweep_if_signalled()
    assert (stopped.value.reason, stopped.value.exit_code) == ("SIGTERM", 143)


@pytest.mark.parametrize("sweep", [False, True])
def test_a_signal_while_the_command_reads_its_arguments_is_one_line(handlers, monkeypatch, capfd, sweep):
    from vae_collapse import cli

    def slow_read(args):  # resume= opens a checkpoint before Hydra starts: torch's import takes seconds
        os.kill(os.getpid(), signal.SIGTERM)
        return args

    monkeypatch.setattr(cli, "_resume_arguments", slow_read)
    monkeypatch.setattr(cli.sys, "argv", ["vae-collapse", *(["-m"] if sweep else []), "resume=/somewhere"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 143
    what = "sweep" if sweep else "run"
    assert capfd.readouterr().err.strip() == f"vae-collapse: interrupted (SIGTERM) before the {what} started"
