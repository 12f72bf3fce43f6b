"""The per-run CSV files the figures are drawn from, and curves averaged over seeds.

Every reader returns None when its file is absent or empty, so a figure can tell "this run
did not write it" from "it wrote nothing useful" without catching exceptions.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from vae_collapse.reporting.summary import SUMMARY_FILE
from vae_collapse.training.checkpoint_paths import run_folder_of


def read_columns(path: Path) -> dict[str, np.ndarray] | None:
    """A CSV as {column: float array}; empty cells and words other than true/false become NaN.

    None also for a file that is no CSV text (a PNG named by mistake, a hand-damaged log):
    cells beyond the header's columns are dropped, so one bad row does not lose the run.
    """
    if not path.is_file():
        return None
    try:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = [row[: len(header)] for row in reader] if header else []
    except (UnicodeDecodeError, csv.Error):
        return None
    if not header or not rows:
        return None

    def number(cell: str) -> float:
        low = cell.strip().lower()
        if low in ("true", "false"):
            return float(low == "true")
        try:
            return float(cell)
        except ValueError:
            return math.nan

    table = np.array([[number(c) for c in row] + [math.nan] * (len(header) - len(row)) for row in rows])
    return {name: table[:, i] for i, name in enumerate(header)}


def metrics_csv(run_dir: Path) -> Path | None:
    """Lightning's CSV log: ``csv/metrics.csv``, or the first ``metrics.csv`` below ``csv/``."""
    direct = run_dir / "csv" / "metrics.csv"
    if direct.is_file():
        return direct
    found = sorted((run_dir / "csv").glob("**/metrics.csv")) if (run_dir / "csv").is_dir() else []
    return found[0] if found else None


def training_curve(run_dir: Path, metric: str = "train/elbo") -> tuple[np.ndarray, np.ndarray] | None:
    """(steps, values) of a metric logged during training, from the first step also for a resumed run.

    A run resumed into a folder of its own logged only the steps after its checkpoint. The steps
    before it come from the folder that checkpoint belongs to (and so on back), where that folder
    is still there; without them a seed mean, which keeps only the range every seed covers, would
    lose the start of training for all the seeds.
    """
    steps, values = [], []
    folder: Path | None = run_dir
    until, seen = math.inf, set()
    while folder is not None and folder.resolve() not in seen:
        seen.add(folder.resolve())
        part = _logged_curve(folder, metric)
        if part is not None:
            keep = part[0] < until
            steps.insert(0, part[0][keep])
            values.insert(0, part[1][keep])
        folder, start = _continued_from(folder)
        if start is None and part is not None and len(part[0]):
            start = float(part[0][0])  # a summary from before resumed_at_step: where its rows begin
        if start is None:
            break
        until = min(until, start)
    if not steps or not sum(len(s) for s in steps):
        return None
    return np.concatenate(steps), np.concatenate(values)


def _continued_from(run_dir: Path) -> tuple[Path | None, float | None]:
    """The folder of the checkpoint a run was resumed from, and the step it was resumed at."""
    try:
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None, None
    source, step = summary.get("resumed_from"), summary.get("resumed_at_step")
    folder = run_folder_of(Path(source)) if isinstance(source, str) and source else None
    if folder is None or not folder.is_dir():
        return None, None
    return folder, float(step) if isinstance(step, (int, float)) and not isinstance(step, bool) else None


def _logged_curve(run_dir: Path, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(steps, values) of one folder's CSV log.

    Rows without an epoch are the final measurements written once training ended; they are
    the summary's values, drawn separately, so they are left out of the curve.
    """
    path = metrics_csv(run_dir)
    table = read_columns(path) if path else None
    if table is None or metric not in table or "step" not in table:
        return None
    keep = np.isfinite(table[metric]) & np.isfinite(table["step"])
    if "epoch" in table:
        keep &= np.isfinite(table["epoch"])
    if not keep.any():
        return None
    steps, values = table["step"][keep], table[metric][keep]
    # The CSV logger may repeat a row (e.g. at an epoch boundary); keep the last per step.
    _, last = np.unique(steps[::-1], return_index=True)
    index = np.sort(len(steps) - 1 - last)
    return steps[index], values[index]


def collapse_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    table = read_columns(run_dir / "collapse_curve.csv")
    if table is None or "eps" not in table:
        return None
    # Runs written before the column took the metric's name call it fraction_collapsed.
    column = next((c for c in ("collapsed_fraction", "fraction_collapsed") if c in table), None)
    if column is None or not (np.isfinite(table["eps"]).all() and np.isfinite(table[column]).all()):
        return None
    order = np.argsort(table["eps"])
    return table["eps"][order], table[column][order]


def data_spectrum(run_dir: Path) -> np.ndarray | None:
    table = read_columns(run_dir / "data_spectrum.csv")
    if table is None or "eigenvalue" not in table or not np.isfinite(table["eigenvalue"]).all():
        return None
    return np.sort(table["eigenvalue"])[::-1]


def column_norms(run_dir: Path) -> np.ndarray | None:
    table = read_columns(run_dir / "decoder_column_norms.csv")
    if table is None or "norm2" not in table or not np.isfinite(table["norm2"]).all():
        return None
    return table["norm2"]


def trajectory(run_dir: Path) -> dict[str, np.ndarray] | None:
    """collapse_trajectory.csv: step, beta, sigma2, active_dims and kl (steps x latent dims)."""
    table = read_columns(run_dir / "collapse_trajectory.csv")
    if table is None or "step" not in table or "active_dims" not in table:
        return None
    if not (np.isfinite(table["step"]).all() and np.isfinite(table["active_dims"]).all()):
        return None
    kl_cols = sorted((c for c in table if c.startswith("kl_dim_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    out = {name: table[name] for name in ("step", "beta", "sigma2", "active_dims") if name in table}
    out["kl"] = np.stack([table[c] for c in kl_cols], axis=1) if kl_cols else np.zeros((len(table["step"]), 0))
    return out


# The files above: the columns each must have (any one of a tuple), and its reader.
_FILES = {
    "data_spectrum.csv": (("eigenvalue",), data_spectrum),
    "decoder_column_norms.csv": (("norm2",), column_norms),
    "collapse_curve.csv": (("eps", ("collapsed_fraction", "fraction_collapsed")), collapse_curve),
    "collapse_trajectory.csv": (("step", "active_dims"), trajectory),
}


def damaged_files(run_dir: Path) -> list[str]:
    """What is wrong with each of the run's CSV files that is there but cannot be drawn from.

    The readers answer None alike for a file that is absent and one that is damaged (hand-edited,
    cut short, another file under the name); a report must not pass the second over in silence.
    A file with the right header and no rows is a run that had nothing to write, not damage.
    """
    found = []
    for name, (columns, reader) in _FILES.items():
        path = run_dir / name
        if path.is_file():
            why = _unreadable(path, columns) or ("values that are not numbers" if reader(run_dir) is None
                                                  and _has_rows(path) else None)
            if why:
                found.append(f"{name}: {why}; the figures drawn from it leave this run out")
    spectrum, norms = data_spectrum(run_dir), column_norms(run_dir)
    if spectrum is not None and norms is not None and len(spectrum) < len(norms):  # k <= n for a linear decoder
        found.append(f"data_spectrum.csv: {len(spectrum)} eigenvalues, fewer than the {len(norms)} decoder columns "
                     "(cut short?); figure 5 draws only these")
    log = metrics_csv(run_dir)
    if log is not None:
        why = _unreadable(log, ("step",))
        table = read_columns(log) if not why else None
        if not why and table is not None and not np.isfinite(table["step"]).all():
            why = "steps that are not numbers"
        if why:
            found.append(f"{log.relative_to(run_dir)}: {why}; the run's training curves are not drawn")
    return found


def _unreadable(path: Path, columns: tuple) -> str | None:
    """Why the file is no CSV with these columns, or None."""
    try:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return "not CSV text"
    if not header:
        return "empty"
    missing = [c if isinstance(c, str) else " or ".join(c) for c in columns
               if not any(name in header for name in ((c,) if isinstance(c, str) else c))]
    return f"no column {', '.join(repr(m) for m in missing)}" if missing else None


def _has_rows(path: Path) -> bool:
    with open(path, newline="") as handle:
        return sum(1 for line in handle if line.strip()) > 1


def mean_curve(
    curves: list[tuple[np.ndarray, np.ndarray]], log_x: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Pointwise mean and sample std of several curves on the x values of the first.

    Curves on other x values are interpolated (in log x for log axes), and only over the
    x range every curve covers, so no value is extrapolated. std is 0 for a single curve.
    """
    if not curves:
        raise ValueError("mean_curve needs at least one curve")
    lo = max(float(np.min(x)) for x, _ in curves)
    hi = min(float(np.max(x)) for x, _ in curves)
    x0 = curves[0][0]
    grid = x0[(x0 >= lo) & (x0 <= hi)]
    tx = np.log if log_x else (lambda v: v)
    stack = np.stack([np.interp(tx(grid), tx(x), y) for x, y in curves])
    std = stack.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(grid.shape)
    return grid, stack.mean(axis=0), std, len(curves)


def thin(x: np.ndarray, y: np.ndarray, limit: int = 200) -> tuple[list[float], list[float]]:
    """At most ``limit`` evenly spaced points of a curve, as lists for report.json."""
    if len(x) > limit:
        index = np.unique(np.linspace(0, len(x) - 1, limit).round().astype(int))
        x, y = x[index], y[index]
    return [float(v) for v in x], [float(v) for v in y]
