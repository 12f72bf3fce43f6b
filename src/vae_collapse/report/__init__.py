"""The reproduction report: the paper's figures and tables from finished runs (``vae-collapse-report``).

``build_report`` reads run directories (single runs, multirun folders, or folders of them),
groups runs that differ only in their seed, draws each figure whose runs are present and
writes ``REPORT.md``, ``report.json`` and the PNGs into one folder.
"""

from vae_collapse.report.build import Report, build_report
from vae_collapse.report.errors import ReportError

__all__ = ["Report", "ReportError", "build_report"]
