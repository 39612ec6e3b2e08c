"""The report a reader can check: ``ablation.md`` (per variant, over seeds) and ``ablation.csv``.

The markdown starts with what the numbers rest on - LOGDIR, preset, runs, variants and seeds,
precision and hardware, what the preset holds equal and what the runs did hold equal, the test,
the correction and the convergence rule - then the variant table (mean ± std [95% CI] n per
metric, marks for differences beyond chance, convergence), the comparisons, the runs left out and
the pictures. ``ablation.csv`` has one row per variant with full-precision numbers. The per-run
table is :mod:`stylenorm.report.table` (``ablation_runs.md``/``.csv``).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

from stylenorm.report.analysis import Analysis, Comparison, equal_across, recorded
from stylenorm.report.convergence import RULE as CONVERGENCE_RULE
from stylenorm.report.learned_norms import learned_norm_section
from stylenorm.report.metrics import higher_is_better
from stylenorm.report.runs import INCOMPLETE
from stylenorm.report.stats import (
    BETTER,
    CORRECTION_NAME,
    INTERVAL_NAME,
    NOTE_DETERMINISTIC,
    NOTE_IDENTICAL,
    TEST_NAME,
    WORSE,
)
from stylenorm.report.styles import mixed_styles
from stylenorm.report.variants import Study, Variant, differing_keys, show_value

MARKS = {BETTER: "▲", WORSE: "▼"}


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_escape(str(cell)) for cell in cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(header), "|" + "|".join("---" for _ in header) + "|", *(_row(row) for row in rows)]


def _decimals(spread: float) -> int | None:
    """Decimals that show two significant digits of ``spread`` (None: no usable spread)."""
    if not math.isfinite(spread) or spread <= 0:
        return None
    return min(8, max(0, 1 - math.floor(math.log10(spread))))


def _number(value: float, decimals: int | None = None) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.{decimals}f}" if decimals is not None else f"{value:.4g}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0 or value == 1:
        return str(int(value))
    return f"{value:.2g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _seeds(seeds: Sequence[int | None]) -> str:
    return ", ".join("?" if seed is None else str(seed) for seed in seeds) or "none"


def cell_text(analysis: Analysis, variant: Variant, tag: str) -> str:
    cell = analysis.cells.get((variant, tag))
    if cell is None:
        return ""
    summary = cell.summary
    if summary.n == 0:
        return "n=0"
    decimals = _decimals(summary.std)
    if summary.n == 1:
        text = f"{_number(summary.mean)} n=1"
    else:
        text = (
            f"{_number(summary.mean, decimals)} ± {_number(summary.std, decimals)} "
            f"[{_number(summary.ci_low, decimals)}, {_number(summary.ci_high, decimals)}] n={summary.n}"
        )
    comparison = analysis.comparison(variant, tag)
    if comparison is not None and comparison.verdict in MARKS:
        text += f" {MARKS[comparison.verdict]}"
    return text


def ranks(analysis: Analysis, study: Study) -> dict[Variant, str]:
    """Rank by the study's primary metric mean (1 = best); "not final" where a variant has not plateaued;
    none where the variants hold different styles (:mod:`stylenorm.report.styles`)."""
    tag = analysis.primary[study]
    if mixed_styles([variant.settings for variant in study.variants]):
        return {}  # networks holding different styles: their means are over different styles
    scored = [
        (v, analysis.cells[(v, tag)].summary.mean)
        for v in study.variants
        if (v, tag) in analysis.cells and analysis.cells[(v, tag)].summary.n
    ]
    scored.sort(key=lambda item: -item[1] if higher_is_better(tag) else item[1])
    result = {}
    for position, (variant, _) in enumerate(scored, start=1):
        final = analysis.convergence[variant].final
        result[variant] = str(position) if final else f"{position} (not final)"
    return result


def _direction(comparison: Comparison) -> str:
    difference = comparison.test.difference
    if not math.isfinite(difference) or difference == 0:
        return "±0"
    better = (difference > 0) == higher_is_better(comparison.tag)
    return f"{difference:+.4g} ({'better' if better else 'worse'})"


def _per_study(analysis: Analysis, describe) -> str:
    """One study: its text; several: ``model, preset X: text; ...``."""
    if len(analysis.studies) == 1:
        return describe(analysis.studies[0])
    return "; ".join(f"{study.title}: {describe(study)}" for study in analysis.studies)


def no_result_warning(analysis: Analysis) -> str | None:
    """Said loudly when no run has a result.json and so none is averaged in: a sweep logged before
    runs wrote one reads as empty otherwise."""
    if analysis.include_incomplete or any(run.status != INCOMPLETE for run in analysis.runs):
        return None
    return (
        "no run has a result.json (logged before runs wrote one, or all still running), so none is averaged "
        "in; --include-incomplete averages them in as they stand"
    )


def header_lines(analysis: Analysis) -> list[str]:
    runs = analysis.runs
    left_out = {id(e.run) for e in analysis.exclusions if e.tags is None}
    partly = {id(e.run) for e in analysis.exclusions if e.tags is not None}
    seeds = sorted({run.seed for run in runs if run.seed is not None})
    per_variant = sorted({len(analysis.averaged_runs(v)) for v in analysis.variants})
    lines = [
        "# Ablation report",
        "",
        f"- **LOGDIR:** `{analysis.logdir}`",
        "- **Preset:** " + _per_study(analysis, lambda s: s.preset or "none recorded (no ablation/preset in hparams)"),
        f"- **Runs:** {len(runs)} ({len(runs) - len(left_out)} averaged in, {len(left_out)} left out"
        + (f", {len(partly)} left out of some metrics" if partly else "")
        + f"), {_plural(len(analysis.variants), 'variant')}, seeds {_seeds(seeds)} "
        f"(averaged-in runs per variant: {', '.join(map(str, per_variant))})",
        "- **Precision and hardware recorded:** "
        + _per_study(
            analysis,
            lambda s: (
                f"trainer/precision: {recorded(s.runs, 'trainer/precision')}; "
                f"run/hardware: {recorded(s.runs, 'run/hardware')}"
            ),
        ),
        "- **What the preset holds equal:** "
        + _per_study(analysis, lambda s: "; ".join(s.holds_equal) or "not stated (no ablation/holds_equal in hparams)"),
        "- **What the runs did hold equal (measured):** "
        + _per_study(analysis, lambda s: "; ".join(equal_across(analysis, s))),
        "- **Reference:** "
        + _per_study(
            analysis,
            lambda s: (
                (
                    f"{','.join(f'{k}={w}' for k, w in s.reference_spec.items())} ({s.reference_source})"
                    if s.reference_spec
                    else s.reference_source
                )
                + (f"; compared within equal {', '.join(s.within)} ({s.within_source})" if s.within else "")
            ),
        ),
        "- **Primary metric:** "
        + _per_study(analysis, lambda s: f"{analysis.primary[s]} ({analysis.primary_source[s]})"),
        f"- **Statistics:** per variant and metric, mean ± standard deviation over seeds (ddof=1) "
        f"[{INTERVAL_NAME}] and n. Test: {TEST_NAME}, each variant against its reference. "
        f"Correction: {CORRECTION_NAME}. ▲/▼: better/worse than the reference at adjusted p < {analysis.alpha:g}. "
        f'Edge cases: n < 2 on either side: no test, no mark ("n too small"); {NOTE_IDENTICAL}; '
        f"{NOTE_DETERMINISTIC} (not seed noise). Only tested comparisons count in the correction.",
        f"- **Convergence rule ({_per_study(analysis, lambda s: analysis.primary[s])}):** {CONVERGENCE_RULE}.",
    ]
    if (warning := no_result_warning(analysis)) is not None:
        lines.append(f"- **Warning:** {warning}.")
    notes = [f"{study.title}: {note}" for study in analysis.studies for note in study.notes]
    if notes:
        lines.append("- **Notes:** " + "; ".join(notes))
    return lines


def variant_table(analysis: Analysis) -> list[str]:
    arrows = {tag: "↑" if higher_is_better(tag) else "↓" for tag in analysis.metrics}
    header = [
        "rank",
        "variant",
        "compared with",
        "runs (seeds)",
        "steps",
        *(f"{tag} {arrows[tag]}" for tag in analysis.metrics),
        "convergence",
    ]
    rows = []
    for study in analysis.studies:
        rank = ranks(analysis, study)
        for variant in study.variants:
            reference = study.references.get(variant)
            averaged = analysis.averaged_runs(variant)
            steps = sorted({run.steps for run in averaged if run.steps is not None})
            rows.append(
                [
                    rank.get(variant, "—"),
                    variant.label,
                    "(reference)" if reference is variant else (reference.label if reference else "nothing"),
                    f"{len(averaged)} ({_seeds([run.seed for run in averaged])})",
                    ", ".join(map(str, steps)) or "—",
                    *(cell_text(analysis, variant, tag) for tag in analysis.metrics),
                    f"{analysis.primary[study]}: {analysis.convergence[variant].describe()}",
                ]
            )
    return _table(header, rows)


def comparison_table(analysis: Analysis) -> list[str]:
    if not analysis.comparisons:
        return ["No comparisons: every variant is a reference, or has none."]
    header = [
        "metric",
        "variant",
        "reference",
        "difference (variant - reference)",
        "p (Welch)",
        "adjusted p (Holm)",
        "verdict",
        "note",
    ]
    rows = []
    for comparison in analysis.comparisons:
        notes = [comparison.test.note] if comparison.test.note else []
        not_final = [v.label for v in (comparison.variant, comparison.reference) if not analysis.convergence[v].final]
        if not_final and comparison.tag == analysis.primary[comparison.study]:
            notes.append(f"not final: {', '.join(not_final)} not plateaued")
        rows.append(
            [
                comparison.tag,
                comparison.variant.label,
                comparison.reference.label,
                _direction(comparison),
                _p(comparison.test.p),
                _p(comparison.p_adjusted),
                comparison.verdict,
                "; ".join(notes),
            ]
        )
    return _table(header, rows)


def settings_table(analysis: Analysis) -> list[str]:
    keys = differing_keys(analysis.variants)
    if not keys:
        return []
    rows = [[v.label, *(show_value(v.settings.get(k)) for k in keys)] for v in analysis.variants]
    return [
        "## Settings that differ between variants",
        "",
        "Every hparams.yaml entry (seed and the ablation protocol aside) that is not the same in all variants; "
        "labels name only those needed to tell variants apart, the rest follow from them.",
        "",
        *_table(["variant", *keys], rows),
        "",
    ]


def left_out_section(analysis: Analysis) -> list[str]:
    lines = ["## Runs left out", ""]
    if not analysis.exclusions:
        lines.append("None: every run is averaged into every metric it logged.")
    else:
        rows = [
            [
                e.run.name,
                e.variant.label,
                show_value(e.run.seed),
                e.run.status,
                "every metric" if e.tags is None else ", ".join(e.tags),
                e.reason,
            ]
            for e in analysis.exclusions
        ]
        lines += _table(["run", "variant", "seed", "status", "left out of", "reason"], rows)
    if analysis.flagged:
        lines += [
            "",
            "Averaged in without result.json (--include-incomplete; they may have been killed early): "
            + ", ".join(f"`{run.name}` (step {run.steps})" for run in analysis.flagged),
        ]
    return lines


def markdown_report(analysis: Analysis, pictures: Sequence[tuple[str, str]] = ()) -> str:
    """The whole ``ablation.md``; ``pictures``: (file name, what it shows) to link at the end."""
    lines = [
        *header_lines(analysis),
        "",
        "## Variants",
        "",
        "Mean ± std [95% CI] n over seeds, final values (the last logged); ↑ higher is better, ↓ lower is better; "
        f"▲/▼ better/worse than the variant it is compared with (Holm-adjusted p < {analysis.alpha:g}). "
        "Rank by the primary metric within each study.",
        "",
        *variant_table(analysis),
        "",
        "## Comparisons",
        "",
        *comparison_table(analysis),
        "",
        *settings_table(analysis),
        *learned_norm_section(analysis),
        *left_out_section(analysis),
        "",
        "## Pictures and tables",
        "",
    ]
    lines += [f"- [{name}]({name}): {what}" for name, what in pictures]
    return "\n".join(lines) + "\n"


def write_report(analysis: Analysis, path: str | os.PathLike, pictures: Sequence[tuple[str, str]] = ()) -> Path:
    path = Path(path)
    path.write_text(markdown_report(analysis, pictures), encoding="utf-8")
    return path


STAT_COLUMNS = ("mean", "std", "ci_low", "ci_high", "n", "diff", "p", "p_holm", "verdict")


def write_variant_csv(analysis: Analysis, path: str | os.PathLike) -> Path:
    """One row per variant: identity, differing settings, then per metric ``<tag>_<stat>``."""
    path = Path(path)
    keys = differing_keys(analysis.variants)
    header = [
        "model",
        "preset",
        "variant",
        "reference",
        "runs",
        "seeds",
        "rank",
        "primary_metric",
        "convergence",
        "late_change_mean",
        *keys,
    ]
    header += [f"{tag}_{stat}" for tag in analysis.metrics for stat in STAT_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for study in analysis.studies:
            rank = ranks(analysis, study)
            for variant in study.variants:
                reference = study.references.get(variant)
                averaged = analysis.averaged_runs(variant)
                convergence = analysis.convergence[variant]
                row = [
                    variant.model,
                    study.preset or "",
                    variant.label,
                    "" if reference is None else reference.label,
                    len(averaged),
                    " ".join(show_value(run.seed) for run in averaged),
                    rank.get(variant, ""),
                    analysis.primary[study],
                    convergence.state,
                    repr(convergence.mean_change),
                    *(show_value(variant.settings.get(k)) for k in keys),
                ]
                for tag in analysis.metrics:
                    cell = analysis.cells.get((variant, tag))
                    comparison = analysis.comparison(variant, tag)
                    if cell is None:
                        row += [""] * len(STAT_COLUMNS)
                        continue
                    s = cell.summary
                    row += [repr(s.mean), repr(s.std), repr(s.ci_low), repr(s.ci_high), s.n]
                    if comparison is None:
                        row += ["", "", "", ""]
                    else:
                        row += [
                            repr(comparison.test.difference),
                            "" if comparison.test.p is None else repr(comparison.test.p),
                            "" if comparison.p_adjusted is None else repr(comparison.p_adjusted),
                            comparison.verdict,
                        ]
                writer.writerow(row)
    return path
