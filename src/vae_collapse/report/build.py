"""Building the report: read runs, group seeds, draw what the runs allow, write the files."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vae_collapse.report import fig_collapse, fig_kl_anneal, fig_linear, figure1, spectrum_source, table1
from vae_collapse.report.aggregate import Group, group_runs, set_aside_repeats
from vae_collapse.report.plotting import FigureResult
from vae_collapse.report.errors import ReportError
from vae_collapse.report.runs import Run, discover, is_run_dir, load_runs
from vae_collapse.reporting.summary import SUMMARY_FILE

# Table 1 sits between figures 5 and 7 in the report's order, so it takes number 6.
TABLE1 = 6
# What each figure needs, said in the report when it could not be drawn.
NEEDS = {
    1: "a covariance spectrum: a run's data_spectrum.csv, or --spectrum-from dataset=mnist",
    2: "linear VAE runs (model=linear_vae, fit=gradient) with a CSV log, e.g. experiment=linear_mnist_1k",
    3: "a fixed-σ² run, or two or more learned-σ² settings, with collapse_curve.csv, "
       "e.g. -m experiment=deep_mnist_fixed_sigma",
    4: "at least two fixed/learned σ² settings of one data set, model and budget, "
       "e.g. -m experiment=deep_mnist_fixed_sigma",
    5: "linear VAE runs with decoder_column_norms.csv and data_spectrum.csv",
    TABLE1: "completed runs",
    7: "KL-annealing runs with collapse_trajectory.csv (eval.track_every_n_steps shorter than the run), "
       "e.g. -m experiment=deep_mnist_kl_anneal",
}


@dataclass
class Report:
    out_dir: Path
    sources: list[Path]
    runs: list[Run]
    groups: list[Group]
    figures: list[FigureResult]
    table: list[table1.Row]
    not_drawn: dict[int, str] = field(default_factory=dict)
    wandb: dict[str, Any] | None = None

    @property
    def excluded(self) -> list[Run]:
        return [run for run in self.runs if not run.usable]

    @property
    def refused_later(self) -> list[Run]:
        """Runs whose folder a later job was refused into: the run is used, the refused job never ran."""
        return [run for run in self.runs if run.usable and run.refused_later is not None]

    @property
    def damaged(self) -> list[Run]:
        return [run for run in self.runs if run.usable and run.damaged]

    @property
    def markdown_path(self) -> Path:
        return self.out_dir / "REPORT.md"

    @property
    def json_path(self) -> Path:
        return self.out_dir / "report.json"


def _a_run_below(folder: Path, depth: int = 2) -> Path | None:
    """A run folder at most ``depth`` levels below ``folder``, or None: a sweep's jobs in it, or its sweeps'.

    Not deeper: a project folder holds outputs/<name>/<time> three levels down, and a report
    written there does not land among the runs.
    """
    for level in range(1, depth + 1):
        for candidate in sorted(folder.glob("/".join(["*"] * level))):
            if candidate.is_dir() and is_run_dir(candidate):
                return candidate
    return None


def build_report(
    paths: list[Path],
    out_dir: Path,
    spectrum_from: list[str] | None = None,
    directions: tuple[int, int] = (1, 2),
    sigma2s: tuple[float, ...] | None = None,
    wandb_mode: str = "disabled",
    wandb_group: str | None = None,
) -> Report:
    """Everything ``vae-collapse-report`` does; returns what it wrote (files under ``out_dir``)."""
    from vae_collapse.report import markdown, output, wandb_out

    if wandb_mode != "disabled":
        wandb_out.check_mode(wandb_mode)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"--out {out_dir}: is a file; give a folder")
    if is_run_dir(out_dir):
        raise ReportError(f"--out {out_dir}: is a run folder; the report would leave that run out and write among "
                          "its files; give another folder")
    inside = _a_run_below(out_dir)
    if inside is not None:
        raise ReportError(f"--out {out_dir}: holds runs ({inside}); the report's files would land among them; "
                          f"give a folder of its own, e.g. {out_dir / 'report'}")
    output.check_out_dir(out_dir)
    # Read before anything is written, so a bad PATH leaves no half-made report folder.
    runs = set_aside_repeats(load_runs([Path(p) for p in paths], exclude=out_dir))
    if paths and not runs:
        foreign = [str(Path(p) / SUMMARY_FILE) for p in paths if (Path(p) / SUMMARY_FILE).is_file()]
        why = (f"; {', '.join(foreign)} holds no vae-collapse config (another tool's file, or damaged)" if foreign
               else "")
        raise ReportError(f"no run folders under {', '.join(str(p) for p in paths)} (a run folder holds summary.json "
                          f"or .hydra/config.yaml){why}; give the folders vae-collapse wrote, e.g. multirun/<name>/<time>")
    for path in paths:  # one of several that holds nothing: a typo, or the wrong folder
        if len(paths) > 1 and not discover([Path(path)], exclude=out_dir):
            print(f"vae-collapse-report: warning: PATH {path} holds no run folders; it is left out",
                  file=sys.stderr, flush=True)
    for run in runs:
        for problem in run.damaged if run.usable else ():
            print(f"vae-collapse-report: warning: {run.run_dir / problem}", file=sys.stderr, flush=True)
    spectrum = spectrum_source.resolve(spectrum_from)
    groups = group_runs(run for run in runs if run.usable)
    spectrum = spectrum or spectrum_source.from_groups(groups)
    # Figure 1's settings are checked (--directions, --sigma2) before the folder is made, too.
    setting = figure1.choose(spectrum.eigvals, spectrum.description, directions, sigma2s) if spectrum else None
    earlier = output.written_files(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output.mark_writing(out_dir)

    figures: list[FigureResult] = []
    if setting is not None:
        figures.append(figure1.draw(setting, out_dir))
    figures += fig_linear.training_figures(groups, out_dir)
    figures += fig_collapse.collapse_figures(groups, out_dir)
    figures += fig_collapse.sigma2_figures(groups, out_dir)
    figures += fig_linear.spectrum_figures(groups, out_dir)
    figures += fig_kl_anneal.anneal_figures(groups, out_dir)
    figures.sort(key=lambda f: (f.number, f.id))
    rows = table1.rows(groups)

    drawn = {f.number for f in figures} | ({TABLE1} if rows else set())
    not_drawn = {number: need for number, need in NEEDS.items() if number not in drawn}
    # Absolute: REPORT.md and report.json are read from out_dir, not from where the command ran.
    sources = list(dict.fromkeys(Path(os.path.abspath(p)) for p in paths))  # sweep and ./sweep/ are one
    report = Report(out_dir, sources, runs, groups, figures, rows, not_drawn)
    output.write_table_csv(report)
    markdown.write(report)
    output.write_json(report)
    output.remove_stale(report, earlier)
    if wandb_mode != "disabled":
        report.wandb = wandb_out.log_report(report, wandb_mode, wandb_group)
        markdown.write(report)
        output.write_json(report)
    return report
