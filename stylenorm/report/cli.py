"""``python scripts/ablation_report.py LOGDIR --out OUTDIR``: test a sweep's declared claims.

Writes into OUTDIR the data (``runs.csv``, ``steps.csv.gz``, ``claims.yaml``) and what it gives (``tests.csv``,
``variants.csv``, ``report.md``, ``curves.png``, ``forest.png``, ``tensorboard/``; docs/training.md). Exit code
2 with a one-line message when LOGDIR holds no runs or a claim cannot be tested.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from stylenorm.report.claims import ClaimError
from stylenorm.report.frame import ReportError, RunTable, read_runs
from stylenorm.report.tensorboard import write_tensorboard
from stylenorm.tensorboard_link import view_lines

PROG = "ablation_report"


def write_report(table: RunTable, out: Path, alpha: float, commands: Sequence[str]) -> list[Path]:
    """Everything a report folder holds, from ``table`` (run folders or a committed report folder)."""
    from stylenorm.report.document import FIGURES, report_markdown
    from stylenorm.report.evaluate import analyze, variant_table
    from stylenorm.report.figures import write_curves, write_forest

    analysis = analyze(table, alpha)
    written = [*table.write(out), out / "tests.csv", out / "variants.csv"]
    analysis.tests.to_csv(out / "tests.csv", index=False)
    variant_table(analysis).to_csv(out / "variants.csv", index=False)
    drawn = {
        "curves.png": write_curves(analysis, out / "curves.png"),
        "forest.png": write_forest(analysis.tests, out / "forest.png"),
    }
    written += [path for path in drawn.values() if path is not None]
    (out / "report.md").write_text(report_markdown(analysis, commands, [f for f in FIGURES if drawn[f[0]]]))
    return [out / "report.md", *written]


def leading_metrics(table: RunTable) -> list[str]:
    """The preset's primary metric, then those its claims use: what a reader of the sweep looks at first."""
    claimed = [m for claim in table.ablation.get("claims") or [] for m in claim.get("metrics", [])]
    return [str(m) for m in dict.fromkeys([table.ablation.get("primary_metric"), *claimed]) if m]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("logdir", type=Path, help="the sweep's folder, e.g. logs/multirun/<time> (every run below it)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="folder for the report (default: report/)")
    parser.add_argument("--alpha", type=float, default=0.05, help="Holm's family-wise level (default 0.05)")
    claims = "a preset yaml whose ablation block replaces the runs' (runs logged before their claims were declared)"
    parser.add_argument("--claims", type=Path, help=claims)
    parser.add_argument("--no-tensorboard", action="store_true", help="do not write OUTDIR/tensorboard")
    args = parser.parse_args(argv)
    command = f"python scripts/{PROG}.py {args.logdir} --out {args.out}"
    command += f" --claims {args.claims}" if args.claims is not None else ""
    try:
        table = read_runs(args.logdir)
        if args.claims is not None:
            try:
                preset = yaml.safe_load(args.claims.read_text()) or {}
            except (OSError, yaml.YAMLError) as error:
                raise ReportError(f"--claims {args.claims}: cannot read it as yaml ({error})") from error
            ablation = preset.get("ablation") if isinstance(preset, dict) else None
            if not isinstance(ablation, dict) or "claims" not in ablation:
                raise ReportError(f"--claims {args.claims}: no ablation.claims in it; give a preset yaml with claims")
            table.ablation = {**table.ablation, **ablation, "claims_from": str(args.claims)}
        table.ablation = {**table.ablation, "report_command": command}  # docs/ablations.md's reproduce lines
        written = write_report(table, args.out, args.alpha, [command])
        if not args.no_tensorboard:
            written += write_tensorboard(table, args.out / "tensorboard", leading_metrics(table))
    except (ReportError, ClaimError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: {len(table.runs)} runs", *(f"  {path}" for path in written), sep="\n")
    if not args.no_tensorboard:
        print("Variants in TensorBoard (CUSTOM SCALARS: mean over seeds with min-max band):")
        metrics = [*leading_metrics(table), *sorted(set(table.steps["metric"]))]
        for line in view_lines(args.out / "tensorboard", metrics):
            print(f"  {line}")
    return 0
