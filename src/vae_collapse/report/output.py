"""report.json (every number the figures and tables show) and table1.csv."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from vae_collapse.reporting.artifacts import write_csv_atomic
from vae_collapse.reporting.summary import jsonable, write_json_atomic
from vae_collapse.report.describe import policy
from vae_collapse.report.table1 import COLUMNS

if TYPE_CHECKING:
    from vae_collapse.report.build import Report

FORMAT = "vae-collapse-report/1"


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
        write_csv_atomic(report.out_dir / "table1.csv", list(COLUMNS), [row.cells() for row in report.table])
