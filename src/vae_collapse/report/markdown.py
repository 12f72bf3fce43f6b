"""REPORT.md: the figures with their captions, Table 1, every setting's numbers, excluded runs."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vae_collapse.report.aggregate import Stat
from vae_collapse.report.describe import policy
from vae_collapse.report.table1 import COLUMNS
from vae_collapse.reporting.atomic import atomic_open

from vae_collapse.report.build import TABLE1

if TYPE_CHECKING:
    from vae_collapse.report.build import Report

# The per-setting table shows these; report.json has every metric.
HEADLINE = (
    "train/elbo", "ppca/log_px", "test/elbo", "test/log_px_iwae", "train/sigma2",
    "collapse/active_dims", "ppca/active_dims", "ppca/residual_dims", "collapse/active_units",
)
FIGURE_NAMES = {
    1: "pPCA log-likelihood around a zero column",
    2: "Linear VAE: training ELBO against the pPCA optimum",
    3: "Collapse against eps",
    4: "ELBO and collapse against σ², with the linear theory",
    5: "Data spectrum against learned decoder column norms",
    TABLE1: "Table 1: noise policies",
    7: "KL annealing over training",
}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render(report: Report) -> str:
    completed = sum(run.usable for run in report.runs)
    lines = [
        "# Reproduction report",
        "",
        ("Runs read from: " + ", ".join(f"`{p}`" for p in report.sources)) if report.sources
        else "No runs given: only the closed-form figure.",
        "",
        f"{len(report.runs)} run directories: {completed} completed, {len(report.excluded)} not used "
        f"(listed at the end). Runs that differ only in their seed are one setting: values are "
        "mean ± sample standard deviation (n = seeds). All log-likelihoods and ELBOs are in nats per example.",
        "",
    ]
    if report.wandb:
        lines += [f"W&B ({report.wandb['mode']}): run `{report.wandb.get('run_id')}` in group "
                  f"`{report.wandb.get('group')}`, folder `{report.wandb.get('dir')}`.", ""]
    for number in sorted(FIGURE_NAMES):
        if number == TABLE1:
            lines += _table1(report)
            continue
        figs = [f for f in report.figures if f.number == number]
        lines.append(f"## Figure {number}: {FIGURE_NAMES[number]}")
        lines.append("")
        if not figs:
            lines += [f"Not drawn: needs {report.not_drawn.get(number, 'runs that are not present')}.", ""]
        for fig in figs:
            rel = os.path.relpath(fig.file, report.out_dir)
            setting = [f"*{fig.setting}*", ""] if fig.setting else []
            lines += [*setting, f"![{fig.title}]({rel})", "", fig.caption, ""]
    lines += _groups(report)
    lines += _excluded(report)
    lines += _refused_later(report)
    lines += _damaged(report)
    return "\n".join(lines).rstrip() + "\n"


def _table1(report: Report) -> list[str]:
    lines = [f"## {FIGURE_NAMES[TABLE1]}", ""]
    if not report.table:
        return lines + ["Not drawn: no completed runs.", ""]
    lines += _table(list(COLUMNS), [row.cells() for row in report.table])
    lines += ["", "`train/elbo`: a pass over the training data with the final parameters (exact for linear models; "
              "deep VAEs: exact KL, one-sample reconstruction term per example). "
              "`test/log_px_iwae`: the IWAE bound of the test log-likelihood. `collapse/collapsed_fraction`: "
              "the fraction of latents (eps, delta)-collapsed at the eps shown. `budget`: the mean `time/steps` and "
              "what the IWAE bound covered; compare rows of one budget. Also in `table1.csv`.", ""]
    return lines


def _groups(report: Report) -> list[str]:
    if not report.groups:
        return []
    lines = ["## Every setting", ""]
    header = ["setting", "noise policy", "seeds", *HEADLINE]
    rows = []
    for g in report.groups:
        rows.append([g.label, policy(g).text, ", ".join(str(s) for s in sorted(g.seeds, key=_seed_order)),
                     *[_number(g.stat(m), m) for m in HEADLINE]])
    lines += _table(header, rows)
    lines.append("")
    if any(not g.stat("ppca/residual_dims").n for g in report.groups):
        lines += ["`ppca/residual_dims` n/a: not in these runs' summary.json, because they were made before the "
                  "measurement was added or with `eval.residual_examples=0`. `vae-collapse-eval <run folder>` "
                  "measures it from a run's checkpoint into `<run folder>/eval/eval.json`, which the next "
                  "report reads.", ""]
    lines += _later_evaluations(report)
    return lines


def _later_evaluations(report: Report) -> list[str]:
    """Say which numbers came from a vae-collapse-eval, not from the run itself."""
    filled = [run for g in report.groups for run in g.runs if run.from_eval]
    if not filled:
        return []
    names = sorted({name for run in filled for name in run.from_eval})
    overrides = sorted({item for run in filled for item in run.eval_overrides})
    used = f", measured with {' '.join(f'`{o}`' for o in overrides)}" if overrides else ""
    return [f"From a later `vae-collapse-eval` (`<run folder>/eval/eval.json`{used}), not in the run's summary.json: "
            f"{', '.join(f'`{n}`' for n in names)} of {len(filled)} run{'s' if len(filled) != 1 else ''}.", ""]


def _seed_order(seed) -> tuple:
    """Seeds are ints (the config checks), in a run folder someone edited perhaps not."""
    return (0, seed, "") if isinstance(seed, int) else (1, 0, str(seed))


# Nats per example: fixed decimal places, so that a column's numbers line up.
NATS = ("train/elbo", "ppca/log_px", "test/elbo", "test/log_px_iwae")
# Counts of latents or directions: whole numbers per run, one decimal for a seed mean (6.7, not 6.667).
COUNTS = ("collapse/active_dims", "ppca/active_dims", "ppca/residual_dims", "collapse/active_units")


def _number(value: Stat, metric: str) -> str:
    if metric in NATS:
        return value.fmt(show_n=False, decimals=2)
    if metric in COUNTS:
        whole = value.n and float(value.mean).is_integer() and not value.std
        return value.fmt(show_n=False, decimals=0 if whole else 1)
    return value.fmt(3, show_n=False)


def _excluded(report: Report) -> list[str]:
    lines = ["## Runs not used", ""]
    if not report.excluded:
        return lines + ["None: every run completed.", ""]
    lines += ["Failed, diverged, unfinished and rejected (bad input) runs, unfinished runs continued in another "
              "folder, and repeats of a setting and seed (the newest is used), are listed here and left out of every "
              "figure and table.", ""]
    rows = [[r.status, str(r.run_dir), " ".join(r.overrides), r.reason or ""] for r in report.excluded]
    return lines + _table(["status", "run directory", "overrides", "reason"], rows) + [""]


def _refused_later(report: Report) -> list[str]:
    if not report.refused_later:
        return []
    lines = ["## Later jobs refused", "",
             "A later job into these runs' folders was stopped by bad input (its rejected.txt) and never ran; "
             "each run is reported as it was before.", ""]
    rows = [[r.status, str(r.run_dir), r.refused_later or ""] for r in report.refused_later]
    return lines + _table(["run's status", "run directory", "refused job's error"], rows) + [""]


def _damaged(report: Report) -> list[str]:
    if not report.damaged:
        return []
    lines = ["## Files that could not be read", "",
             "These completed runs hold files the report could not read; each line says what that leaves out.", ""]
    rows = [[str(r.run_dir), problem] for r in report.damaged for problem in r.damaged]
    return lines + _table(["run directory", "file: problem"], rows) + [""]


def write(report: Report) -> None:
    with atomic_open(report.markdown_path) as handle:
        handle.write(render(report))
