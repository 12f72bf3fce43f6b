"""report.json (every number the figures and tables show) and table1.csv."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vae_collapse.reporting.artifacts import write_csv_atomic
from vae_collapse.reporting.summary import jsonable, write_json_atomic
from vae_collapse.report.describe import policy
from vae_collapse.report.errors import ReportError
from vae_collapse.report.table1 import COLUMNS

if TYPE_CHECKING:
    from vae_collapse.report.build import Report

FORMAT = "vae-collapse-report/1"
TABLE_FILE = "table1.csv"
# The report's figures: fig<number>_<what>.png (report/plotting.save).
FIGURE_NAME = re.compile(r"fig\d+_.*\.png")


def _rel(report: Report, path) -> str:
    try:
        return str(os.path.relpath(path, report.out_dir))
    except ValueError:  # another drive on Windows
        return str(path)


def as_dict(report: Report) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for run in report.runs:
        by_status[run.status] = by_status.get(run.status, 0) + 1
    return jsonable({
        "format": FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sources": [str(p) for p in report.sources],
        "runs": {"total": len(report.runs), "by_status": by_status},
        "excluded": [{"run_dir": str(r.run_dir), "status": r.status, "reason": r.reason,
                      "overrides": r.overrides} for r in report.excluded],
        "refused_later": [{"run_dir": str(r.run_dir), "status": r.status, "reason": r.refused_later}
                          for r in report.refused_later],
        "damaged_files": [{"run_dir": str(r.run_dir), "problems": r.damaged} for r in report.damaged],
        "groups": [{
            "label": g.label, "name": g.name, "policy": policy(g).text, "varied": g.varied, "n": g.n,
            "seeds": g.seeds, "run_dirs": [str(r.run_dir) for r in g.runs],
            "metrics": {m: g.stat(m).as_dict() for m in g.metric_names()},
        } for g in report.groups],
        "figures": [{"number": f.number, "id": f.id, "file": _rel(report, f.file), "title": f.title,
                     "caption": f.caption, "setting": f.setting, "data": f.data} for f in report.figures],
        "table1": [row.as_dict() for row in report.table],
        "not_drawn": {str(k): v for k, v in report.not_drawn.items()},
        "wandb": report.wandb,
    })


def write_json(report: Report) -> None:
    write_json_atomic(report.json_path, as_dict(report))


def write_table_csv(report: Report) -> None:
    if report.table:
        write_csv_atomic(report.out_dir / TABLE_FILE, list(COLUMNS), [row.cells() for row in report.table])


def _is_reports(out_dir: Path) -> bool:
    try:
        return json.loads((out_dir / "report.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_out_dir(out_dir: Path) -> None:
    """Refuse an --out whose REPORT.md, report.json, table1.csv or fig*.png no report wrote: the report
    would replace them without a word. A folder an earlier report wrote is written over, as intended."""
    if not out_dir.is_dir() or _is_reports(out_dir):
        return
    names = ("REPORT.md", "report.json", TABLE_FILE)
    theirs = sorted(p.name for p in out_dir.iterdir() if p.name in names or FIGURE_NAME.fullmatch(p.name))
    if theirs:
        shown = ", ".join(theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
        raise ReportError(f"--out {out_dir}: holds {shown}, not written by vae-collapse-report (its report.json "
                          "is missing or not a report's), and the report would replace them; give another folder")


def mark_writing(out_dir: Path) -> None:
    """A report.json without numbers until the real one replaces it: a report stopped while drawing
    leaves a folder that the next report still knows as its own."""
    if not _is_reports(out_dir):
        write_json_atomic(out_dir / "report.json", {"format": FORMAT, "status": "being written"})


def written_files(out_dir: Path) -> set[Path]:
    """The figures and table an earlier report in ``out_dir`` wrote, by its report.json (none if unreadable)."""
    try:
        earlier = json.loads((out_dir / "report.json").read_text())
        names = [f["file"] for f in earlier.get("figures", [])] + ([TABLE_FILE] if earlier.get("table1") else [])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()
    inside = out_dir.resolve()
    paths = {(out_dir / str(name)).resolve() for name in names}
    return {p for p in paths if inside in p.parents}  # never a file outside the report's folder


def remove_stale(report: Report, earlier: set[Path]) -> list[Path]:
    """Delete what an earlier report wrote and this one did not (a figure whose runs are gone), so the
    folder never shows a figure that REPORT.md does not describe. Only files a report wrote are touched."""
    now = {Path(f.file).resolve() for f in report.figures}
    if report.table:
        now.add((report.out_dir / TABLE_FILE).resolve())
    stale = sorted(earlier - now)
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
