"""``python scripts/ablation_report.py LOGDIR --out OUTDIR``: the ablation report of a sweep.

Writes into OUTDIR:

* ``ablation.md`` - per variant (runs that differ only in their seed), mean ± std [95% CI] n of
  every metric, Welch's t-tests against the reference variant with Holm's correction, convergence,
  the runs left out and why; ``ablation.csv`` - the same per variant, full precision;
* ``ablation_runs.md`` / ``ablation_runs.csv`` - one row per run (seed, status, final values);
* ``curves.png`` - validation metrics against step, mean and min-max band over seeds;
* ``batch_size.png`` - when variants differ in batch size: primary metric against batch size;
* ``ablation.png`` - the last validation grid of one seed of every variant, labelled;

and a custom-scalars layout under LOGDIR/.layout for TensorBoard (``--no-layout`` to leave LOGDIR
untouched). Exit code 2 with a one-line message when LOGDIR holds no runs or an option names
something the runs do not have.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stylenorm.report.analysis import Analysis, analyze
from stylenorm.report.curves import batch_size_studies, write_batch_size_plot, write_curves
from stylenorm.report.document import no_result_warning, write_report, write_variant_csv
from stylenorm.report.layout import LAYOUT_DIR, write_layout
from stylenorm.report.picture import one_seed_each, write_picture
from stylenorm.report.runs import ReportError, collect_runs
from stylenorm.report.table import write_csv, write_markdown

PROG = "ablation_report"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("logdir", type=Path, help="the sweep's log folder (paths.log_dir, e.g. logs/)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="folder for the report (default: report/)")
    parser.add_argument(
        "--reference",
        help="the variant every other is compared with, as hparams key=value pairs, e.g. "
        "'norm/kind=instance,norm/affine=True' (default: the runs' ablation/reference, else the first variant)",
    )
    parser.add_argument(
        "--within",
        help="hparams keys a comparison holds fixed, comma-separated, e.g. data/batch_size: each variant is "
        "compared with the reference of the same batch size (default: the runs' ablation/compare_within)",
    )
    parser.add_argument(
        "--primary", help="the metric to rank, plot and judge convergence by (default: ablation/primary_metric)"
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="family-wise significance level per metric (default: 0.05)"
    )
    parser.add_argument(
        "--include-incomplete",
        action="store_true",
        help="average in runs without result.json (e.g. logged before runs wrote one); they are flagged",
    )
    parser.add_argument("--columns", type=int, default=4, help="panels per picture row (default: 4)")
    parser.add_argument(
        "--no-layout", action="store_true", help=f"do not write the TensorBoard layout to LOGDIR/{LAYOUT_DIR}"
    )
    return parser


def write_figures(analysis: Analysis, out: Path, columns: int) -> list[tuple[Path, str]]:
    """The pictures, each with what it shows (for the report's links); a picture there is nothing
    for (no averaged-in run validated, no image grid) is skipped with a note on stderr - the
    tables are still worth having."""
    written = []
    figures = [(write_curves, "curves.png", "validation metrics against step, per variant")]
    if batch_size_studies(analysis):
        figures.append((write_batch_size_plot, "batch_size.png", "primary metric against batch size"))
    for write, name, what in figures:
        try:
            written.append((write(analysis, out / name), what))
        except ReportError as error:
            print(f"{PROG}: {error}; no {name}", file=sys.stderr)
    runs, labels = one_seed_each(analysis)
    if runs:
        picture = write_picture(runs, out / "ablation.png", columns=max(1, columns), labels=labels)
        written.append((picture, "the last validation images of one seed per variant"))
    else:
        print(f"{PROG}: no run logged a validation image grid; no ablation.png", file=sys.stderr)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        runs = collect_runs(args.logdir)
        analysis = analyze(
            runs,
            args.logdir,
            reference=args.reference,
            within=args.within,
            primary=args.primary,
            alpha=args.alpha,
            include_incomplete=args.include_incomplete,
        )
        args.out.mkdir(parents=True, exist_ok=True)
        variant_of = {run.name: variant.label for variant in analysis.variants for run in variant.runs}
        left_out = {e.run.name: "no" if e.tags is None else f"not {', '.join(e.tags)}" for e in analysis.exclusions}
        extra = {"variant": variant_of, "averaged in": {run.name: left_out.get(run.name, "yes") for run in runs}}
        tables = [
            write_markdown(runs, args.out / "ablation_runs.md", args.logdir, extra),
            write_csv(runs, args.out / "ablation_runs.csv", extra),
            write_variant_csv(analysis, args.out / "ablation.csv"),
        ]
        figures = write_figures(analysis, args.out, args.columns)
        links = [(path.name, what) for path, what in figures]
        links += [
            ("ablation.csv", "this table, one row per variant, full precision"),
            ("ablation_runs.md", "one row per run (seed, status, final values)"),
            ("ablation_runs.csv", "the same, full precision"),
        ]
        written = [write_report(analysis, args.out / "ablation.md", links), *tables, *(p for p, _ in figures)]
        if not args.no_layout:
            tags = {tag for run in runs for tag in run.metrics}
            if any(tag.startswith(("val/", "train/")) for tag in tags):
                written.append(write_layout(args.logdir, tags))
    except (ReportError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: {len(runs)} runs in {len(analysis.variants)} variants")
    if (warning := no_result_warning(analysis)) is not None:
        print(f"{PROG}: {warning}", file=sys.stderr)
    for path in written:
        print(f"  {path}")
    return 0
