"""``python -m benchmarks.report [results/latest.json]``: the table as Markdown, for docs/performance.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.run import DEFAULT_OUT


def _fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def markdown(payload: dict) -> str:
    lines = ["| figure | value | baseline (same run) | ratio | target | met |", "|---|---|---|---|---|---|"]
    for f in payload["figures"]:
        unit = f" {f['unit']}" if f["value"] is not None else ""
        ratio = f"{_fmt(f['ratio'], 3)} ({f['ratio_meaning']})" if f["ratio"] is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[f["met"]]
        title = f"{f['key']}: {f['title']}" + (f" — {f['note']}" if f["note"] else "")
        lines.append(f"| {title} | {_fmt(f['value'])}{unit} | {_fmt(f['baseline'])}{unit} | {ratio} | {f['target']} | {met} |")
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(markdown(json.loads(path.read_text())))
