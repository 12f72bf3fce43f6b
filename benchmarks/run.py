"""``python -m benchmarks``: run the figures, print the table, write results/latest.json.

    python -m benchmarks                 # every figure, 5 repeats each (tens of minutes on 2 cores)
    python -m benchmarks --quick         # each figure in its smallest form (a smoke test)
    python -m benchmarks --only fig1,fig2 --repeats 7
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from benchmarks.common import ROOT, Figure, Settings, machine

FIGURES = {
    "fig1": "benchmarks.fig1_linear_overhead",
    "fig2": "benchmarks.fig2_fast_path",
    "fig3": "benchmarks.fig3_time_to_solution",
    "fig4": "benchmarks.fig4_deep_overhead",
    "fig5": "benchmarks.fig5_sweep",
    "fig6": "benchmarks.fig6_memory",
    "fig7": "benchmarks.fig7_iwae",
    "startup": "benchmarks.startup",
}
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latest.json"


def find_data_dir() -> str | None:
    """The first cache holding MNIST: $VAE_COLLAPSE_DATA, the framework's default, /tmp/vc-data."""
    for candidate in (os.environ.get("VAE_COLLAPSE_DATA"), "~/.cache/vae-collapse", "/tmp/vc-data"):
        if candidate and (Path(candidate).expanduser() / "mnist" / "train-images-idx3-ubyte").exists():
            return str(Path(candidate).expanduser())
    return None


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}"


def table(figures: list[Figure]) -> str:
    rows = [("figure", "value", "baseline", "ratio", "target", "met"), ]
    for f in figures:
        unit = f" {f.unit}" if f.value is not None else ""
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append((f"{f.key}: {f.title}", _fmt(f.value) + unit, _fmt(f.baseline) + unit,
                     _fmt(f.ratio, 3) + (f" ({f.ratio_meaning})" if f.ratio is not None else ""), f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {f.key}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def run_figures(keys: list[str], settings: Settings, on_figure=None) -> list[Figure]:
    figures = []
    for key in keys:
        module = importlib.import_module(FIGURES[key])
        print(f"[bench] {key} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            figure = module.run(settings)
        except Exception as exc:  # one broken figure must not hide the others
            figure = Figure(key=key, title=FIGURES[key], note=f"failed: {type(exc).__name__}: {exc}".splitlines()[0],
                            details={"traceback": traceback.format_exc()[-3000:]})
        figure.details["bench_seconds"] = round(time.perf_counter() - started, 1)
        figure.details["loadavg_after"] = list(os.getloadavg())
        figures.append(figure)
        if on_figure is not None:
            on_figure(figures)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest form of each figure (a smoke test)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(FIGURES)}")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per timing (default 5, quick 1)")
    parser.add_argument("--preset", default=Settings.preset, help="figure 3's experiment preset")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: the first cache found)")
    parser.add_argument("--deep-examples", type=int, default=60000,
                        help="images in figure 4's epoch (default all 60,000)")
    parser.add_argument("--iwae-images", type=int, default=10000,
                        help="test images in figure 7 (default all 10,000)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own); 1 steadies timings on a crowded machine")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.only.split(",") if k.strip()] or list(FIGURES)
    unknown = [k for k in keys if k not in FIGURES]
    if unknown:
        print(f"benchmarks: error: unknown figure {', '.join(unknown)}; choose from {', '.join(FIGURES)}",
              file=sys.stderr)
        return 2
    repeats = args.repeats or (1 if args.quick else 5)
    if repeats < 1 or (not args.quick and repeats < 5):
        print(f"benchmarks: warning: --repeats {repeats}: the figures are meant as medians of >= 5", file=sys.stderr)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    settings = Settings(threads=args.threads, iwae_images=args.iwae_images, deep_examples=args.deep_examples, quick=args.quick, repeats=max(1, repeats), data_dir=args.data_dir or find_data_dir(),
                        work_dir=args.out.parent / "work", preset=args.preset)
    info = machine()
    started = time.time()

    def write(figures: list[Figure]) -> None:
        # After every figure, so a long run that is stopped still leaves what it measured.
        info["loadavg_end"] = list(os.getloadavg())
        payload = {"quick": args.quick, "threads": args.threads, "repeats": settings.repeats,
                   "data_dir": settings.data_dir, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                   "seconds": round(time.time() - started, 1), "machine": info,
                   "figures": [f.to_json() for f in figures]}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")

    figures = run_figures(keys, settings, on_figure=write)
    print(table(figures))
    print(f"\nmachine: {info.get('cpu', '?')}, {info['cpu_count']} cores, torch {info['torch']} "
          f"({info['torch_threads']} threads); load average {info['loadavg_start'][0]:.1f} at start, "
          f"{info['loadavg_end'][0]:.1f} at end\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
