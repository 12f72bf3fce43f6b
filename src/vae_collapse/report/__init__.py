"""The reproduction report: the paper's figures and tables from finished runs (``vae-collapse-report``).

``build_report`` reads run directories (single runs, multirun folders, or folders of them),
groups runs that differ only in their seed, draws each figure whose runs are present and
writes ``REPORT.md``, ``report.json`` and the PNGs into one folder.
"""

from __future__ import annotations

from typing import Any

from vae_collapse.report.errors import ReportError

__all__ = ["Report", "ReportError", "build_report"]


def __getattr__(name: str) -> Any:
    # torch and matplotlib load only when a report is built, so a bad PATH fails in a blink.
    if name in ("Report", "build_report"):
        from vae_collapse.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'vae_collapse.report' has no attribute {name!r}")
