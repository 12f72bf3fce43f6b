"""The ``vae-collapse`` console script: the Hydra app.

Known user errors (a bad config value, a missing data file) end the run with one line on
stderr and exit status 1, never a traceback wall.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig

from vae_collapse.config import ConfigError
from vae_collapse.config.run_name import name_in_arguments
from vae_collapse.reporting.atomic import write_text_atomic
from vae_collapse.reporting.console import say
from vae_collapse.training.sweep_jobs import register_resolver

# Before Hydra composes anything: conf/hydra/default.yaml names sweep job folders with it. A joblib or
# submitit worker imports this module to run a job, so it registers there too.
register_resolver()


def _config_dir() -> str:
    """conf/ of this checkout (editable install), or VAE_COLLAPSE_CONF."""
    if os.environ.get("VAE_COLLAPSE_CONF"):
        return str(Path(os.environ["VAE_COLLAPSE_CONF"]).resolve())
    return str(Path(__file__).resolve().parents[2] / "conf")


def _user_errors() -> tuple[type[Exception], ...]:
    from vae_collapse.data import DataError

    return (ConfigError, DataError)


# What a failed or diverged job returns to a sweeper: finite, and worse than any real ELBO, so an
# Optuna study records a bad trial and goes on instead of crashing.
PENALTY = 1.0e12


class StudyStopped(KeyboardInterrupt):
    """An Optuna study whose trials are refused with the same error, time after time, whatever
    values it samples: it stops instead of repeating the error for every trial. A
    KeyboardInterrupt, like a signal's RunInterrupted, so that it passes Hydra's job runner and
    the sweeper without their own reports of a failed job."""


# Refusals in a row that stop a study when they are all the same error.
SAME_REFUSALS_TO_STOP = 3
_refusals: list[str] = []  # this process's latest trials' refusals, reset by any trial that runs
_run_started = False  # set by the first job this process runs; it reports its own interruption


def _samples_its_jobs() -> bool:
    """Whether the sweeper samples its jobs (Optuna) rather than enumerating them."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    return "optuna" in str(OmegaConf.select(HydraConfig.get(), "sweeper._target_", default="")).lower()


def _stop_study_if_refused_alike(message: str) -> None:
    _refusals.append(message)
    latest = _refusals[-SAME_REFUSALS_TO_STOP:]
    if len(latest) == SAME_REFUSALS_TO_STOP and len(set(latest)) == 1:
        _refusals.clear()
        raise StudyStopped(message)


def _multirun_job() -> tuple[bool, str]:
    """(is this a job of a multirun, its name: its folder in the sweep folder)."""
    from vae_collapse.training.sweep_jobs import current_job

    job = current_job()
    return job is not None, job or ""


def _penalty() -> float:
    """-PENALTY when the sweeper maximises (the default), +PENALTY when it minimises."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    direction = OmegaConf.select(HydraConfig.get(), "sweeper.direction", default="maximize")
    return PENALTY if str(direction).lower().startswith("min") else -PENALTY


def _objective(metrics: dict) -> float:
    value = metrics.get("val/elbo", metrics.get("train/elbo"))
    try:
        value = float(value)
    except (TypeError, ValueError):
        return _penalty()
    return value if math.isfinite(value) else _penalty()


def _record_traceback(cfg: DictConfig) -> Path | None:
    """A multirun job prints one line; the traceback goes to a file in its folder for debugging."""
    from vae_collapse.reporting.summary import TRACEBACK_FILE

    try:
        path = Path(cfg.paths.output_dir) / TRACEBACK_FILE
        write_text_atomic(path, traceback.format_exc())
        return path
    except Exception:
        return None


def _mark_rejected(run_dir: Path, message: str, multirun: bool) -> None:
    """Bad input stopped the run before it started.

    A sweep job's folder gets the error in rejected.txt, so the sweep's count says which jobs
    this command could not run, also where the folder holds an earlier run (whose files stay as
    they are; the next run or skip of the job removes the note). A single run's folder that
    holds only what Hydra wrote is removed, so a typo leaves no empty run behind for reports.
    """
    from vae_collapse.reporting.summary import HYDRA_ONLY, REJECTED_FILE

    try:
        if not run_dir.is_dir():
            return
        if multirun:
            write_text_atomic(run_dir / REJECTED_FILE, message + "\n")
            return
        if not {p.name for p in run_dir.iterdir()} <= HYDRA_ONLY or (run_dir / ".hydra").is_file():
            return
        if run_dir.resolve() == Path.cwd().resolve() or run_dir.resolve() in Path.cwd().resolve().parents:
            # hydra.run.dir=. : take back only what Hydra wrote, never the folder the user is in
            shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
            (run_dir / "cli.log").unlink(missing_ok=True)
        else:
            shutil.rmtree(run_dir)
            _remove_empty_parents(run_dir.parent, Path.cwd().resolve())
    except OSError:
        pass  # tidying up must never hide the error the user needs to see


def _forget_sweep_folder() -> None:
    """A sweep whose jobs could not be composed changed nothing: its earlier multirun.yaml comes back,
    or the folder Hydra made for it goes (with the empty multirun/<name>/ above it)."""
    from vae_collapse.training import sweep_report

    where = sweep_report.CURRENT_DIR
    if where is None:
        return
    sweep_report.keep_earlier_record(where, None)
    if not where.exists():
        try:
            _remove_empty_parents(where.parent, Path.cwd().resolve())
        except OSError:
            pass


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    """Hydra's default run folder is outputs/<name>/<time>: drop the levels it made, inside ``stop`` only."""
    folder = folder.resolve()
    while folder != stop and stop in folder.parents and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _resume_arguments(argv: list[str]) -> list[str]:
    """The command line of a ``resume=`` run, made to compose as the resumed run.

    ``dataset.root=X`` says where the run's data lives now (resume.RELOCATABLE_KEYS). The run's
    dataset comes from its checkpoint, but Hydra composes the command line on the default dataset
    first, which may have no such key: ``++`` lets it through, and the resumed config takes it.
    The run's ``name`` is given too, so that the new folder is outputs/<its name>/<time> (beside it
    for a run in the default folders), not outputs/default/<time>. A sweep job's folder has ``=`` and ``,`` in its name
    (noise.sigma2=1.0,seed=0), which Hydra reads as syntax: the path is quoted for it.
    """
    resume = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("resume=")), None)
    if resume and len(resume) > 1 and resume[0] == resume[-1] and resume[0] in "'\"":
        resume = resume[1:-1]  # quoted by the user already
    if not resume:
        return argv
    from vae_collapse.config.keys import RELOCATABLE_KEYS

    argv = [f"++{arg}" if arg.split("=", 1)[0] in RELOCATABLE_KEYS else arg for arg in argv]
    names = {_name_of_run(Path(folder).expanduser()) for folder in resume_folders(resume)}
    name = None if any(arg.startswith("name=") for arg in argv) or len(names) != 1 else names.pop()
    if not name:
        return argv
    # Beside resume=, among the overrides: in front of them all it would come before -m or --cfg.
    at = next(i for i, arg in enumerate(argv) if arg.startswith("resume="))
    return [*argv[:at], f"name={name}", *argv[at:]]


# Overrides whose value is a path: a sweep job's folder (noise.sigma2=1.0,seed=0) has characters
# that Hydra reads as syntax, so such a value is quoted for it.
PATH_KEYS = ("resume", "hydra.run.dir", "hydra.sweep.dir")


def _quoted(value: str) -> str:
    quote = "'" if "'" not in value else '"'
    return f"{quote}{value}{quote}"


def resume_folders(value: str) -> list[str]:
    """The run folders of ``resume=a,b``: a sweep of continuations. A folder's own name may hold commas
    (a sweep job, noise.sigma2=1.0,seed=0), so the pieces are joined back until each names a path
    that exists. One item where the value is one path, or where the pieces name no paths."""
    if Path(value).expanduser().exists() or "," not in value:
        return [value]
    folders, current = [], None
    for piece in value.split(","):
        current = piece if current is None else f"{current},{piece}"
        if Path(current).expanduser().exists():
            folders.append(current)
            current = None
    return folders if current is None and len(folders) > 1 else [value]


def _quoted_paths(argv: list[str]) -> list[str]:
    out = []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key in PATH_KEYS and ("=" in value or "," in value) and "${" not in value and value[:1] not in "'\"":
            folders = resume_folders(value) if key == "resume" else [value]
            arg = f"{key}={','.join(_quoted(folder) for folder in folders)}"
        out.append(arg)
    return out


def _name_of_run(where: Path) -> str | None:
    """The experiment name of the run a checkpoint belongs to (None if unknown): from its summary.json,
    or from the checkpoint where there is none (a run killed with SIGKILL writes no summary)."""
    from vae_collapse.reporting.summary import SUMMARY_FILE
    from vae_collapse.training.checkpoints import META_KEY, checkpoint_file, read_checkpoint, run_folder_of

    run_dir = run_folder_of(where) if where.is_file() else where
    try:
        name = json.loads((run_dir / SUMMARY_FILE).read_text())["config"]["name"]
    except (TypeError, OSError, ValueError, KeyError):
        try:
            name = read_checkpoint(checkpoint_file(where), str(where))[META_KEY]["config"]["name"]
        except (ConfigError, TypeError, KeyError):  # the run itself says what is wrong with it
            return None
    # A plain word only: it becomes part of a Hydra override and of a folder name.
    return name if isinstance(name, str) and re.fullmatch(r"[\w.-]+", name) else None


@hydra.main(version_base="1.3", config_path=_config_dir(), config_name="config")
def _app(cfg: DictConfig) -> float | None:
    """One run. In a multirun a failing job ends with one line and a penalty, so the other jobs
    run on and the sweep reports them all at the end (vae_collapse.training.sweep_report)."""
    from hydra_plugins.vae_collapse_launchers import stoppable_joblib
    from vae_collapse.training import interrupts
    from vae_collapse.training.checkpoints import checkpoint_file
    from vae_collapse.training.interrupts import RunInterrupted
    from vae_collapse.training.run import run_experiment

    global _run_started
    _run_started = True
    multirun, job = _multirun_job()
    prefix = f"vae-collapse: job {job}: " if multirun else "vae-collapse: "
    if multirun and stoppable_joblib.stopping():  # joblib had taken this job before the sweep was stopped
        say(f"{prefix}not started: the sweep is stopping", err=True)
        return _penalty()
    try:
        result = run_experiment(cfg)
        _refusals.clear()
    except KeyboardInterrupt as exc:  # RunInterrupted once training started; plain before that
        reason = exc.reason if isinstance(exc, RunInterrupted) else interrupts.received() or "Ctrl-C"
        run_dir = Path(cfg.paths.output_dir)
        again = ("re-run the same command to finish the sweep" if multirun
                 else f"continue it with: vae-collapse resume={run_dir}")
        if checkpoint_file(run_dir).is_file():
            next_step = again
        elif cfg.get("resume") and not multirun:  # a continuation stopped early: where it started is intact
            next_step = f"no checkpoint was written here yet; continue it with: vae-collapse resume={cfg.resume}"
        else:
            next_step = "no checkpoint was written yet"
        say(f"{prefix}interrupted ({reason}); {next_step}", err=True)
        if multirun and interrupts.in_pool_worker():
            return _penalty()  # a raise would make joblib kill the other workers; the sweep stops by itself
        if multirun:
            raise  # the whole sweep stops; main() counts its jobs
        sys.exit(interrupts.EXIT_CODES.get(reason, 130))
    except _user_errors() as exc:
        say(f"{prefix}error: {exc}", err=True)
        _mark_rejected(Path(cfg.paths.output_dir), str(exc), multirun)
        if multirun and _samples_its_jobs():
            _stop_study_if_refused_alike(str(exc))
        if multirun:
            return _penalty()
        sys.exit(1)
    except Exception as exc:
        where = _record_traceback(cfg)  # beside summary.json (status failed), also for a single run
        if not multirun:
            raise  # a bug, not bad input: the traceback is what is needed
        first = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        say(f"{prefix}failed: {first}" + (f" (traceback in {where})" if where else ""), err=True)
        _stop_sweep_if_signalled()
        return _penalty()
    if result.status == "diverged":
        say(f"{prefix}diverged: {result.reason}", err=True)
        if not multirun:
            sys.exit(1)
        _stop_sweep_if_signalled()
        return _penalty()
    # Returned to Hydra so that sweepers (e.g. Optuna) can maximise it.
    return _objective(result.metrics)


def _stop_sweep_if_signalled() -> None:
    """A signal held for the end of a training step that never came (the step failed or diverged)
    still stops the sweep; the job keeps the status it ended with."""
    from vae_collapse.training import interrupts

    reason = interrupts.received()
    if reason is not None and not interrupts.in_pool_worker():  # a joblib sweep stops by itself
        raise interrupts.RunInterrupted(reason, interrupts.EXIT_CODES[reason])


def _one_line(exc: BaseException) -> str:
    """Hydra's composition errors span several lines; keep the facts, drop the search path."""
    parts: list[str] = []
    options: list[str] = []
    for line in str(exc).splitlines():
        if line.startswith("Config search path") or line.startswith("Set the environment variable"):
            break
        if line.startswith("\t"):
            options.append(line.strip())
        elif line.strip():
            parts.append(line.strip().rstrip(":").rstrip("."))
    message = "; ".join(parts)
    if options:
        message += ": " + ", ".join(options)
    return message or type(exc).__name__


# Hydra plugins that are optional extras of this package: where Hydra cannot find one, say how to get it.
OPTIONAL_PLUGINS = {"hydra/sweeper/optuna": "optuna"}


# hydra.searchpath entries Hydra found missing (its UserWarning, caught by _note_missing_searchpath).
_missing_searchpaths: list[str] = []
_HYDRA_SEARCHPATH_WARNING = re.compile(r"provider=hydra\.searchpath in (.+?), path=(.+) is not available")


def _note_missing_searchpath(showwarning):
    """warnings.showwarning that turns Hydra's warning about a missing hydra.searchpath entry (a
    two-line UserWarning with a site-packages path) into one line, and remembers the entry."""

    def show(message, category, filename, lineno, file=None, line=None):
        found = _HYDRA_SEARCHPATH_WARNING.search(str(message))
        if found is None:
            return showwarning(message, category, filename, lineno, file, line)
        _missing_searchpaths.append(found.group(2))
        say(f"vae-collapse: warning: hydra.searchpath: {found.group(2)} (from the {found.group(1)}) is not a "
            "config folder; nothing is read from it", err=True)

    return show


def _plugin_hint(message: str) -> str:
    if "Could not find '" in message and _missing_searchpaths:
        return f" (hydra.searchpath names {', '.join(_missing_searchpaths)}, which is not a config folder)"
    for option, extra in OPTIONAL_PLUGINS.items():
        if f"Could not find '{option}'" in message:
            return f" (an optional extra: pip install -e '.[{extra}]')"
    # conf/hydra/launcher/ names the launcher plugins' classes, which are there only with the extra
    if "Unknown plugin class" in message and "launcher" in message:
        return " (an optional extra: pip install -e '.[launchers]')"
    if "does not support sweep type : INTERVAL_SWEEP" in message:
        return (" (interval() is for a sweeper that samples, e.g. hparams_search=sigma_optuna; a grid takes a list "
                "of values or range(start,stop,step))")
    return ""


def _user_argument(path: str, argv: list[str]) -> str | None:
    """The user's own ``path=value`` on the command line, sweep values and all (``noise.sigma=1,2``):
    Hydra's message has only the value of the job it composed."""
    return next((arg for arg in argv if arg.split("=", 1)[0] == path and "=" in arg), None)


def _close_match(key: str, candidates) -> tuple[str, float] | None:
    """The candidate most like ``key`` (difflib), with its ratio; None where none is close."""
    import difflib

    candidates = [str(c) for c in candidates]
    found = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if found:
        return found[0], difflib.SequenceMatcher(None, key, found[0]).ratio()
    # A key cut short (checkpoint.every for every_n_steps) is obvious too, where only one key starts so.
    longer = [c for c in candidates if len(key) >= 3 and c.startswith(key)]
    return (longer[0], 0.6) if len(longer) == 1 else None


def _selected_choices(argv: list[str], path: str, pick: tuple[str, str] | None = None) -> list[str]:
    """The group choices of a command line (noise=fixed, experiment=...): enough to know which option
    is selected. A swept choice (noise=fixed,learned) counts as its first value, Hydra's first job,
    or as the value ``pick`` gives its group. The failed override ``path=...`` itself is left out."""
    choices = []
    for arg in argv:
        if arg.split("=", 1)[0] == path:
            continue
        found = re.match(r"^(\+?[\w/]+)=([^,()\[\]{}]*)(,[^()\[\]{}]*)?$", arg)
        if found:
            value = pick[1] if pick and found.group(1) == pick[0] else found.group(2)
            choices.append(f"{found.group(1)}={value}")
    # A user's own config folder (docs/extending.md) may hold the selected option.
    return choices + [arg for arg in argv if arg.startswith("hydra.searchpath=")]


def _resumed_refusal(override: str, argv: list[str]) -> str | None:
    """With ``resume=<one run>``, a key the default config lacks is refused as the resumed run's
    settings are: the run may have the key (noise.sigma2 of noise=fixed), but not let it change."""
    from vae_collapse.training.resume import not_resumable_override

    runs = [arg.split("=", 1)[1] for arg in argv if arg.startswith("resume=") and arg.split("=", 1)[1]]
    if len(runs) != 1 or len(resume_folders(runs[0])) != 1:
        return None
    return not_resumable_override(override, runs[0])


def _missing_key(message: str, argv: list[str] | None = None) -> str | None:
    """Where Hydra says "Could not override 'noise.sigma2'", say which keys the node has instead.

    The usual cause is a typo, or a key of another option of the group (sigma2 is fixed noise's; the
    default is learned), where Hydra's own advice, "use +noise.sigma2", only leads to a second error.
    The same holds for nodes that are no group (eval., checkpoint.): their keys, and the closest one.
    """
    found = re.match(r"Could not override '([^'\s]+)'.*? use (\+\S+)", message, flags=re.S)
    if not found:
        return None
    path, hydra_append = found.groups()
    argv = sys.argv[1:] if argv is None else argv
    mine = _user_argument(path, argv)
    resumed = _resumed_refusal(mine or f"{path}=...", argv)
    if resumed:
        return resumed
    append = f"+{mine}" if mine else hydra_append
    value = mine.split("=", 1)[1] if mine else None
    parts = path.split(".")
    group_dir = Path(_config_dir()) / parts[0]
    is_group = len(parts) > 1 and group_dir.is_dir()
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import DictConfig as Node, OmegaConf

    def hint(choices: list[str]) -> str | None:
        try:
            GlobalHydra.instance().clear()
            with initialize_config_dir(config_dir=_config_dir(), version_base="1.3"):
                cfg = compose(config_name="config", overrides=choices, return_hydra_config=True)
            selected = cfg.hydra.runtime.choices.get(parts[0]) if is_group else None
            # Walk down to the node that lacks the next key (or is a value, not a node with keys).
            node, depth = cfg, 0
            while depth < len(parts) - 1 and isinstance(node, Node) and parts[depth] in node:
                node, depth = node._get_node(parts[depth]), depth + 1
            key = parts[depth]
            where = ".".join(parts[:depth])
            if not isinstance(node, Node):
                raw = node._value()
                shown = "null" if raw is None else str(raw)
                return f"cannot override {path}: {where} is a value ({shown}), not a node with keys"
            if key in node:  # Hydra says why itself (e.g. a key of a struct that is null)
                return None
            keys = [str(k) for k in node if not str(k).startswith("_") and not (depth == 0 and k == "hydra")]
            named = f"{parts[0]}={selected}" if is_group and depth == 1 else (where or "the config")
            line = (f"cannot override {path}: {named} has no {'top-level ' if depth == 0 else ''}key {key} "
                    f"(its keys: {', '.join(keys)})")
            close = _close_match(key, keys)
            def suggest(k: str) -> str:  # the user's path with the missing key swapped for k, and their value
                return ".".join([*parts[:depth], k, *parts[depth + 1:]]) + (f"={value}" if value is not None else "")

            if is_group and depth == 1:
                others = {p.stem: (OmegaConf.load(p) or {})
                          for p in sorted(group_dir.glob("*.yaml")) if p.stem != selected}
                having = [stem for stem, option in others.items() if key in option]
                if having:
                    options = [f"{parts[0]}={o}" for o in having]
                    which = "it" if len(options) == 1 else "one"
                    return line + f"; {key} is a key of {' and '.join(options)} (select {which} first)"
                elsewhere = {}
                for stem, option in others.items():
                    match = _close_match(key, [k for k in option if not str(k).startswith("_")])
                    if match and match[1] > elsewhere.get(match[0], (None, 0.0))[1]:
                        elsewhere[match[0]] = (stem, match[1])
                best = max(elsewhere.items(), key=lambda item: item[1][1], default=None)
                if best and (close is None or best[1][1] > close[1]):
                    return line + (f"; did you mean {suggest(best[0])}? (a key of {parts[0]}={best[1][0]}, "
                                   "select it first)")
            if close:
                return line + f"; did you mean {suggest(close[0])}?"
            if is_group and depth == 1 or (depth > 0 and "_target_" not in node):
                return line + f"; to add a new key write {append}"
            return line
        except Exception:  # noqa: BLE001 - a hint must never replace the error it explains
            return None
        finally:
            GlobalHydra.instance().clear()

    # A swept group (noise=fixed,learned): the key may be missing from only some of its options.
    swept = _user_argument(parts[0], argv) if is_group else None
    values = swept.split("=", 1)[1].split(",") if swept and re.fullmatch(r"[\w/+]+=[\w./-]+(,[\w./-]+)+", swept) else []
    if not values:
        return hint(_selected_choices(argv, path))
    answers = [(choice, hint(_selected_choices(argv, path, (parts[0], choice)))) for choice in values]
    lacking = [(choice, answer) for choice, answer in answers if answer]
    if len(lacking) == len(values):  # a typo: no option has the key
        return lacking[0][1]
    if not lacking:  # Hydra composes the sweep's own config with the group's default option first
        return (f"cannot override {path}: each {parts[0]} option the sweep selects has the key, but Hydra first "
                f"composes the sweep's own config with {parts[0]}'s default option, which has not; write "
                f"++{mine or path} (which sets the key, or adds it where it is missing)")
    jobs = " and ".join(f"{parts[0]}={choice}" for choice, _ in lacking)
    return lacking[0][1] + (f" (in the sweep's jobs with {jobs}; a key that only some options have needs a sweep "
                            "per option)")


def _append_clash(message: str, argv: list[str] | None = None) -> str | None:
    """``+noise.sigma2=1`` in a sweep over ``noise=fixed,learned``: Hydra says the key is there already
    (fixed has it) and offers ``++``, which learned then refuses. Say which options have the key."""
    found = re.match(r"Could not append to config\. An item is already at '([^']+)'", message)
    if not found:
        return None
    path = found.group(1)
    group, _, key = path.partition(".")
    argv = sys.argv[1:] if argv is None else argv
    swept = _user_argument(group, argv)
    if not key or "." in key or not swept or "," not in swept or not (Path(_config_dir()) / group).is_dir():
        return None
    from omegaconf import OmegaConf

    values = swept.split("=", 1)[1].split(",")
    files = {v: Path(_config_dir()) / group / f"{v}.yaml" for v in values}
    having = [v for v, f in files.items() if f.is_file() and key in (OmegaConf.load(f) or {})]
    lacking = [v for v in values if v not in having]
    if not having or not lacking:
        return None
    has, lacks = (" and ".join(f"{group}={o}" for o in options) for options in (having, lacking))
    return (f"cannot add {path}: {has} {'has' if len(having) == 1 else 'have'} it already and {lacks} "
            f"{'takes' if len(lacking) == 1 else 'take'} no such key; a key that only some options have needs a "
            "sweep per option")


def _raised_in_hydra(exc: BaseException) -> bool:
    """A ValueError from Hydra's own override handling (e.g. ``group=null``) is bad input, not a bug."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and f"{os.sep}hydra{os.sep}" in tb.tb_frame.f_code.co_filename


def _raised_in_hydra_setup(exc: BaseException) -> bool:
    """Raised in Hydra's own code (making the run folder) before our task function ran: no frame of
    this package comes after Hydra's first one."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    hydra_at = next((i for i, name in enumerate(frames) if f"{os.sep}hydra{os.sep}" in name), None)
    return hydra_at is not None and not any(f"{os.sep}vae_collapse{os.sep}" in name for name in frames[hydra_at:])


def _lost_a_job(exc: BaseException) -> bool:
    """A launcher lost a job's process (killed, out of memory, node gone): joblib's loky raises
    TerminatedWorkerError at once, submitit an UncompletedJobError once the other jobs are done."""
    return type(exc).__name__ in ("TerminatedWorkerError", "UncompletedJobError")


def _lost_job_report(exc: BaseException) -> str:
    """One line for a sweep whose launcher lost a job: what happened, where things stand, what to do."""
    from vae_collapse.training import sweep_report

    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    # loky's first line guesses at causes; its line with the exit codes says what happened
    detail = next((line for line in lines if "exit codes" in line), lines[0] if lines else "")
    line = f"vae-collapse: error: a job's process ended without a result ({type(exc).__name__}: {detail[:160]})"
    where = sweep_report.CURRENT_DIR
    outcome = sweep_report.collect(where) if where is not None and where.is_dir() else None
    if outcome is not None and outcome.statuses:
        line += "; " + sweep_report.describe(outcome).removeprefix("vae-collapse: ")
    else:
        line += "; re-run the same command to finish the sweep"
    return line + " (completed jobs are skipped, interrupted ones resume from their last checkpoint)"


def _report_stopped_sweep() -> None:
    from vae_collapse.training import interrupts, sweep_report

    if sweep_report.CURRENT_DIR is not None and sweep_report.CURRENT_DIR.is_dir():
        print(sweep_report.describe(sweep_report.collect(sweep_report.CURRENT_DIR), stopped=True),
              file=sys.stderr, flush=True)
    elif not _run_started:  # a run that had started said so itself
        what = "sweep" if {"-m", "--multirun"} & set(sys.argv[1:]) else "run"
        print(f"vae-collapse: interrupted ({interrupts.received() or 'Ctrl-C'}) before the {what} started",
              file=sys.stderr, flush=True)


def main() -> None:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    # Let composition errors reach us instead of Hydra's multi-line report.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    from vae_collapse.training import interrupts, sweep_report

    interrupts.install()  # also in a sweep's own process, between and around its jobs

    from hydra.errors import OverrideParseException
    from hydra_plugins.vae_collapse_launchers import quiet_schema_warnings
    from vae_collapse.training.sweep_preflight import SweepRefused

    try:
        sys.argv[1:] = _quoted_paths(_resume_arguments(sys.argv[1:]))  # reads checkpoints: can take seconds
        bad_name = name_in_arguments(sys.argv[1:])
        if bad_name:  # before Hydra makes outputs/<name>/<time>, wherever that would be
            print(f"vae-collapse: error: {bad_name}", file=sys.stderr, flush=True)
            sys.exit(1)
        import warnings

        warnings.showwarning = _note_missing_searchpath(warnings.showwarning)
        quiet_schema_warnings()
        _app()
    except SweepRefused as exc:
        advice = ("; fix the overrides and run the sweep again (to leave each job to check itself, add "
                  "'~hydra.callbacks.sweep_preflight')") if exc.about_jobs else ""
        print(f"vae-collapse: error: {exc}{advice}", file=sys.stderr, flush=True)
        sys.exit(1)
    except StudyStopped:
        print(f"vae-collapse: error: the study stopped: its last {SAME_REFUSALS_TO_STOP} trials were refused with "
              "the same error (above); fix it and run the study again",
              file=sys.stderr, flush=True)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        # A sweep stopped by Ctrl-C or SIGTERM (a joblib sweep's workers have stopped their jobs, or
        # joblib killed them on a second signal): its jobs are counted.
        _report_stopped_sweep()
        sys.exit(getattr(exc, "exit_code", None) or interrupts.EXIT_CODES.get(interrupts.received() or "", 130))
    except OverrideParseException as exc:
        print(f"vae-collapse: error: cannot parse the override {exc.override!r}: {_one_line(exc)}",
              file=sys.stderr, flush=True)
        sys.exit(1)
    except (HydraException, OmegaConfBaseException) as exc:
        why = _missing_key(str(exc)) or _append_clash(str(exc)) or _one_line(exc)
        print(f"vae-collapse: error: {why}{_plugin_hint(str(exc))}",
              file=sys.stderr, flush=True)
        _forget_sweep_folder()
        sys.exit(1)
    except OSError as exc:  # Hydra makes the run folder before the run starts
        if not _raised_in_hydra_setup(exc):
            raise
        print(f"vae-collapse: error: cannot write {exc.filename or 'the output folder'} ({exc.strerror or exc}); "
              "give a writable folder with hydra.run.dir=... or hydra.sweep.dir=...", file=sys.stderr, flush=True)
        sys.exit(1)
    except ValueError as exc:
        if not _raised_in_hydra(exc):
            raise
        hint = " (to drop a config group, write ~group, e.g. '~lr_scheduler')" if "Got NoneType" in str(exc) else ""
        print(f"vae-collapse: error: {_one_line(exc)}{hint}", file=sys.stderr, flush=True)
        _forget_sweep_folder()
        sys.exit(1)
    except Exception as exc:
        hint = _plugin_hint(str(exc))
        if hint and str(exc).startswith("Unknown plugin class"):  # a launcher of conf/hydra/launcher/ not installed
            print(f"vae-collapse: error: hydra.launcher: {exc}{hint}", file=sys.stderr, flush=True)
            _forget_sweep_folder()
            sys.exit(1)
        if not _lost_a_job(exc):
            raise
        if interrupts.received() is not None:  # the signal also ended a worker that was still starting up
            _report_stopped_sweep()
            sys.exit(interrupts.EXIT_CODES[interrupts.received()])
        print(_lost_job_report(exc), file=sys.stderr, flush=True)
        sys.exit(1)
    if sweep_report.LAST is not None and not sweep_report.LAST.all_completed:
        sys.exit(1)  # the sweep ran to the end, but not every job completed: say so to scripts


if __name__ == "__main__":
    main()
