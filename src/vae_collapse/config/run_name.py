"""The rule for ``name``: it names the run's folder under outputs/ and multirun/, and its W&B group."""

from __future__ import annotations

from pathlib import PurePath


def name_problem(value: str) -> str | None:
    """Why ``name=value`` cannot name a run, or None. Nested names (``paper/fig3``) are fine; a name
    that leaves outputs/ (``..``, an absolute path) or names no folder would put the run where no
    report or resume looks for it. ``hydra.run.dir`` is the way to choose a folder elsewhere."""
    if not value.strip():
        return "name= is empty: give the experiment a name, e.g. name=my_sweep"
    if PurePath(value).is_absolute() or ".." in PurePath(value).parts:
        return (f"name={value}: a name makes the folder outputs/<name>/ (multirun/<name>/ for a sweep) and may "
                "not leave it ('..' or an absolute path); choose the folder with hydra.run.dir=... or "
                "hydra.sweep.dir=... instead")
    return None


def name_in_arguments(argv: list[str]) -> str | None:
    """The problem with a plain ``name=...`` on the command line, found before Hydra makes its folder."""
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if key == "name" and sep and not any(c in value for c in ",'\"$[]()"):  # sweeps and quoting: Hydra's
            problem = name_problem(value)
            if problem:
                return problem
    return None
