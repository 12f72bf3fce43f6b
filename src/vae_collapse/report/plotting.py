"""What every figure module shares: the result record, a new figure, colours, bands.

Figures are matplotlib ``Figure`` objects rendered with the Agg canvas (never pyplot), written
atomically by :func:`vae_collapse.reporting.figures.write_png`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vae_collapse.reporting.figures import DPI, write_png


@dataclass
class FigureResult:
    """One PNG of the report, with what it shows in words and in numbers (for report.json)."""

    number: int  # the figure number (1-7); several files may share one
    id: str  # file stem, unique in the report
    title: str
    file: Path
    caption: str
    data: dict[str, Any] = field(default_factory=dict)
    setting: str = ""  # data, model and budget, where several files share a number


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


# Characters of a suptitle per inch of figure width (matplotlib's "large", 12 pt, is ~0.09 in a character).
TITLE_CHARS_PER_INCH = 10


def wrapped(text: str, inches: float, fontsize: float = 12.0) -> str:
    """``text`` wrapped to a width in inches, line by line: constrained layout makes room for a
    title's height, never its width."""
    import textwrap

    width = max(30, int(inches * TITLE_CHARS_PER_INCH * 12.0 / fontsize))
    # A short parenthesis stays on one line ("(1024-512 relu)"): textwrap does not break at U+00A0.
    keep = re.compile(r"\(([^()\n]{1,30})\)")
    lines = [keep.sub(lambda m: "(" + m.group(1).replace(" ", "\u00a0") + ")", line) for line in text.split("\n")]
    return "\n".join(textwrap.fill(line, width=width).replace("\u00a0", " ") for line in lines)


def suptitle(fig, text: str) -> None:
    """The figure's title, wrapped to its width."""
    fig.suptitle(wrapped(text, fig.get_figwidth()))


def save(fig, out_dir: Path, stem: str) -> Path:
    return write_png(fig, out_dir / f"{stem}.png")


def colours(n: int, cmap: str = "viridis") -> list:
    """n colours spread over a colour map (ends trimmed so the lightest stays visible on white)."""
    from matplotlib import colormaps

    cm = colormaps[cmap]
    return [cm(v) for v in np.linspace(0.05, 0.85, max(n, 1))][:n]


def band(ax, x, mean, std, colour, label: str, linestyle: str = "-", marker: str | None = None,
         linewidth: float = 1.6) -> None:
    """A mean curve with a +-1 std band (no band for a single run); a curve of one or two points gets markers,
    or a single logged point (a short run) would not be drawn at all."""
    if marker is None and len(x) <= 2:
        marker = "o"
    ax.plot(x, mean, color=colour, linestyle=linestyle, marker=marker, markersize=4, linewidth=linewidth, label=label)
    if np.any(std > 0):
        ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)


def seeds_text(n: int) -> str:
    return "1 seed" if n == 1 else f"mean ± std over {n} seeds"
