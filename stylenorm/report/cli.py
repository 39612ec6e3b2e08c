"""``python scripts/ablation_report.py LOGDIR --out OUTDIR``: the ablation report of a sweep.

Writes OUTDIR/ablation.md (table, best in bold), OUTDIR/ablation.csv (raw numbers) and
OUTDIR/ablation.png (the last validation grid of every run, labelled), and a custom-scalars layout
under LOGDIR/.layout for TensorBoard (``--no-layout`` to leave LOGDIR untouched). Exit code 2 with
a one-line message when LOGDIR holds no runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stylenorm.report.layout import LAYOUT_DIR, write_layout
from stylenorm.report.picture import write_picture
from stylenorm.report.runs import ReportError, collect_runs
from stylenorm.report.table import write_csv, write_markdown

PROG = "ablation_report"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("logdir", type=Path, help="the sweep's log folder (paths.log_dir, e.g. logs/)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="folder for the report (default: report/)")
    parser.add_argument("--columns", type=int, default=4, help="panels per picture row (default: 4)")
    parser.add_argument(
        "--no-layout", action="store_true", help=f"do not write the TensorBoard layout to LOGDIR/{LAYOUT_DIR}"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        runs = collect_runs(args.logdir)
        args.out.mkdir(parents=True, exist_ok=True)
        written = [
            write_markdown(runs, args.out / "ablation.md", args.logdir),
            write_csv(runs, args.out / "ablation.csv"),
        ]
        if any(run.grid_png for run in runs):
            written.append(write_picture(runs, args.out / "ablation.png", columns=max(1, args.columns)))
        else:  # e.g. runs stopped before their first validation: the table is still worth having
            print(f"{PROG}: no run logged a validation image grid; no ablation.png", file=sys.stderr)
        if not args.no_layout:
            tags = {tag for run in runs for tag in run.metrics}
            if any(tag.startswith(("val/", "train/")) for tag in tags):
                written.append(write_layout(args.logdir, tags))
    except (ReportError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: {len(runs)} runs")
    for path in written:
        print(f"  {path}")
    return 0
