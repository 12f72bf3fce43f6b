"""The ``vae-collapse-report`` console script.

    vae-collapse-report multirun/ outputs/run1 --out report/
    vae-collapse-report --spectrum-from dataset=mnist dataset.subset=1000 --out fig1/   # Figure 1 alone

Bad input ends with one line on stderr and exit status 1, like ``vae-collapse``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from vae_collapse.report.errors import ReportError
from vae_collapse.reporting.console import ctrl_c_is_one_line
from vae_collapse.reporting.wandb_modes import WANDB_MODES

PROG = "vae-collapse-report"


def _default_wandb_mode() -> str:
    """$WANDB_MODE where it names a mode, as for the runs themselves; else offline."""
    mode = os.environ.get("WANDB_MODE", "")
    return mode if mode in WANDB_MODES else "offline"


def _pair(text: str) -> tuple[int, int]:
    try:
        i, j = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected two 1-based eigenvalue indices, e.g. 1,2") from None
    return i, j


def _three(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three sigma^2 values, e.g. 0.5,2,10")
    return values  # type: ignore[return-value]


def out_folder(text: str) -> Path:
    """--out's value: an empty one (``--out=``, an unset shell variable) would be the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: give a folder (--out . for the current one)")
    return Path(text)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage block would bury the one line that matters
        print(f"{PROG}: error: {message} (see {PROG} --help)", file=sys.stderr, flush=True)
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog=PROG,
        description="Build the reproduction report (PNG figures, REPORT.md, report.json) from run directories: "
                    "single runs, multirun folders, or folders holding either.",
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="run directories or folders above them")
    p.add_argument("--out", type=out_folder, default=None,
                   help="report folder (default: PATH/report for one PATH, else ./report)")
    p.add_argument("--wandb", choices=WANDB_MODES, default=_default_wandb_mode(),
                   help="log the figures and tables to a W&B run of the runs' group (default: $WANDB_MODE or offline)")
    p.add_argument("--wandb-group", default=None, help="W&B group (default: the runs' group if they share one)")
    p.add_argument("--spectrum-from", nargs="+", metavar="SOURCE", default=None,
                   help="Figure 1's data: Hydra overrides (dataset=mnist dataset.subset=1000) or a data_spectrum.csv; "
                        "default: the spectrum saved by a reported run. Put PATHs before this option.")
    p.add_argument("--directions", type=_pair, default=(1, 2), metavar="I,J",
                   help="Figure 1's two principal directions, 1-based (default: 1,2)")
    p.add_argument("--sigma2", type=_three, default=None, metavar="A,B,C",
                   help="Figure 1's three sigma^2 (default: one per regime from the two eigenvalues)")
    return p


def _os_error(exc: OSError, out: Path) -> str:
    """One line for a file the report could not read or write; most often an --out that cannot be made."""
    name = Path(exc.filename) if exc.filename else out
    inside_out = name == out or out in name.parents or name in out.parents
    if inside_out:
        return f"cannot write {name} ({exc.strerror or exc}); give a writable --out"
    return f"{name}: {exc.strerror or exc}"


def _glued(argv: list[str]) -> list[str]:
    """``--sigma2 -1,2,3`` as ``--sigma2=-1,2,3``: argparse takes a value that starts with a minus
    and is no plain number for an option, and would report a missing value instead of a bad one."""
    out: list[str] = []
    for item in argv:
        if out and out[-1] in ("--sigma2", "--directions") and item[:1] == "-" and item[1:2].isdigit():
            out[-1] = f"{out[-1]}={item}"
        else:
            out.append(item)
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@ctrl_c_is_one_line(PROG)
def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except BrokenPipeError:  # `vae-collapse-report ... | head`: the reader left, the report is written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        sys.exit(1)


def _main(argv: list[str] | None) -> None:
    args = parser().parse_args(_glued(sys.argv[1:] if argv is None else argv))
    if not args.paths and not args.spectrum_from:
        parser().error("give at least one PATH, or --spectrum-from for Figure 1 alone")
    variable = os.environ.get("WANDB_MODE")
    if args.wandb != "disabled" and variable is not None and variable not in WANDB_MODES:
        # wandb reads it too, and would fail with a traceback once the report's files are written
        print(f"{PROG}: error: WANDB_MODE={variable!r} (the environment variable): expected one of "
              f"{', '.join(WANDB_MODES)}; or pass --wandb disabled", file=sys.stderr, flush=True)
        sys.exit(1)
    out = args.out or (args.paths[0] / "report" if len(args.paths) == 1 else Path("report"))
    from vae_collapse.report.runs import check_paths

    try:
        check_paths(args.paths)  # before the heavy imports below: a typo should fail at once
    except ReportError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from vae_collapse.cli import _missing_key, _one_line
    from vae_collapse.config import ConfigError
    from vae_collapse.data import DataError
    from vae_collapse.report.build import TABLE1, build_report

    try:
        report = build_report(args.paths, out, spectrum_from=args.spectrum_from, directions=args.directions,
                              sigma2s=args.sigma2, wandb_mode=args.wandb, wandb_group=args.wandb_group)
    except (ReportError, ConfigError, DataError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except (HydraException, OmegaConfBaseException) as exc:
        why = _missing_key(str(exc), args.spectrum_from or []) or _one_line(exc)
        print(f"{PROG}: error: --spectrum-from: {why}", file=sys.stderr, flush=True)
        sys.exit(1)
    except OSError as exc:  # after Hydra's, whose MissingConfigException is an OSError too
        print(f"{PROG}: error: {_os_error(exc, out)}", file=sys.stderr, flush=True)
        sys.exit(1)
    completed = sum(run.usable for run in report.runs)
    if report.runs and not completed:
        counts = Counter(run.status for run in report.runs)
        found = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(f"{PROG}: warning: no completed runs ({found}); the report only lists them", file=sys.stderr, flush=True)
    print(f"Report: {report.markdown_path}")
    left_out = Counter(run.status for run in report.excluded)
    why = ": " + ", ".join(f"{n} {status}" for status, n in sorted(left_out.items())) if left_out else ""
    n = len(report.runs)
    print(f"  {n} run{'' if n == 1 else 's'} ({completed} completed, {len(report.excluded)} not used{why}), "
          f"{_count(len(report.groups), 'setting')}, {_count(len(report.figures), 'figure')}")
    if report.refused_later:
        print(f"  {_count(len(report.refused_later), 'later job')} refused in the folders of runs it lists "
              "(see REPORT.md); those runs are reported as they were")
    if report.table:
        from vae_collapse.report.output import TABLE_FILE

        print(f"  table 1: {report.markdown_path} and {report.out_dir / TABLE_FILE}")
    for fig in report.figures:
        print(f"  figure {fig.number}: {fig.file}")
    for number, need in report.not_drawn.items():
        what = "table 1 not written" if number == TABLE1 else f"figure {number} not drawn"
        print(f"  {what}: needs {need}")
    print(f"  numbers: {report.json_path}")
    if report.wandb:
        print(f"  W&B ({report.wandb['mode']}): {out / report.wandb['dir']}")


if __name__ == "__main__":
    main()
