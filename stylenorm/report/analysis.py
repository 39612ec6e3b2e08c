"""From runs to findings: who is averaged in, each variant's statistics, the tests and what is fair.

The rules, in the order they are applied (each left-out run is listed with its reason, nothing is
dropped silently):

1. A run whose ``result.json`` says crashed, diverged or interrupted is left out of every metric:
   its numbers are from a run that did not finish as configured.
2. A run without ``result.json`` ("incomplete": killed, still running, or logged before runs wrote
   one) is left out too, unless ``include_incomplete`` (``--include-incomplete``) - then it is
   averaged in as it stands and flagged.
3. A second run of a variant with a seed already used is a repeat, not an independent sample: the
   first one (lowest version) is used.
4. Per metric: a run whose final value (its last logged one) is non-finite, or that never logged a
   metric other runs of its study did, is left out of that metric only - except a per-style metric
   of a style its network does not hold (:mod:`stylenorm.report.styles`): not measured, not left out.
5. A variant is tested against its reference on every metric both have, except that networks
   holding different styles are compared on the per-style metrics of their shared styles only;
   Holm's correction runs per metric, a per-style metric's styles together.

The final value of a metric is the last finite value logged (the HPARAMS placeholders are NaN and
come first), so rule 4 catches exactly the runs whose last value is NaN or inf.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from stylenorm.report.convergence import Convergence, late_change, variant_convergence
from stylenorm.report.metrics import higher_is_better, metric_columns
from stylenorm.report.runs import FINISHED, INCOMPLETE, ReportError, RunSummary
from stylenorm.report.stats import Summary, Test, holm, summarize, verdict, welch
from stylenorm.report.styles import (
    CORRECTED_OVER_STYLES,
    NOT_COMPARED,
    NOT_RANKED,
    comparable,
    correction_family,
    measures,
    mixed_styles,
)
from stylenorm.report.variants import Study, Variant, build_studies, group_variants

#: The metric a study is about when neither --primary nor ablation/primary_metric says: the first
#: of these that its runs logged, else its first val/ metric.
DEFAULT_PRIMARY = ("val/psnr", "val/psnr_AtoB", "val/content", "val/loss")

#: Reason for rule 2.
INCOMPLETE_REASON = (
    "incomplete: no result.json (killed, crashed before writing it, still running, or logged before runs "
    "wrote result.json; --include-incomplete averages such runs in)"
)


@dataclass(frozen=True)
class Exclusion:
    """A run left out of some metrics (``tags``) or of all (``tags`` None), and why."""

    run: RunSummary
    variant: Variant
    reason: str
    tags: tuple[str, ...] | None = None


@dataclass
class Cell:
    """One variant, one metric: the runs averaged in, their final values and the summary."""

    runs: list[RunSummary]
    values: list[float]
    summary: Summary


@dataclass(frozen=True)
class Comparison:
    tag: str
    study: Study
    variant: Variant
    reference: Variant
    test: Test
    p_adjusted: float | None
    verdict: str


@dataclass
class Analysis:
    logdir: str
    runs: list[RunSummary]
    variants: list[Variant]
    studies: list[Study]
    metrics: list[str]  # columns: the (first study's) primary metric first
    alpha: float
    include_incomplete: bool
    primary: dict[Study, str] = field(default_factory=dict)
    primary_source: dict[Study, str] = field(default_factory=dict)
    cells: dict[tuple[Variant, str], Cell] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    convergence: dict[Variant, Convergence] = field(default_factory=dict)
    flagged: list[RunSummary] = field(default_factory=list)  # incomplete runs averaged in

    def averaged_runs(self, variant: Variant) -> list[RunSummary]:
        """The runs of ``variant`` not left out as a whole (rules 1-3)."""
        out = {id(e.run) for e in self.exclusions if e.tags is None}
        return [run for run in variant.runs if id(run) not in out]

    def comparison(self, variant: Variant, tag: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.variant is variant and c.tag == tag), None)


def _run_level_reason(run: RunSummary, include_incomplete: bool) -> str | None:
    if run.status == FINISHED:
        return None
    if run.status == INCOMPLETE:
        if include_incomplete:
            return None
        return INCOMPLETE_REASON + (f"; {run.error}" if run.error else "")
    step = run.result_step if run.result_step is not None else run.steps
    reason = f"{run.status} (result.json) at step {step}"
    if run.status == "diverged":
        reason += ": a final metric was non-finite"
    return reason + (f": {run.error}" if run.error else "")


def _choose_primary(study: Study, metrics: Sequence[str], override: str | None) -> tuple[str, str]:
    logged = [tag for tag in metrics if any(tag in run.final for run in study.runs)]
    if override is not None:
        if override not in logged:
            raise ReportError(f"--primary {override!r} was not logged by any run of {study.title}; logged: {logged}")
        return override, "--primary on the command line"
    if study.primary_hparam is not None:
        if study.primary_hparam in logged:
            return study.primary_hparam, "ablation/primary_metric in the runs' hparams"
        study.notes.append(f"ablation/primary_metric {study.primary_hparam} was never logged: not used")
    for tag in (*DEFAULT_PRIMARY, *(t for t in logged if t.startswith("val/")), *logged):
        if tag in logged:
            return tag, "default: no --primary, no ablation/primary_metric"
    raise ReportError(f"the runs of {study.title} logged no val/ or train/ metric to compare")


def analyze(
    runs: Sequence[RunSummary],
    logdir: str | os.PathLike = "",
    reference: str | None = None,
    within: str | None = None,
    primary: str | None = None,
    alpha: float = 0.05,
    include_incomplete: bool = False,
) -> Analysis:
    """Group, filter, summarize and test ``runs`` (see the module docstring for the rules)."""
    if not 0 < alpha < 1:
        raise ReportError(f"--alpha must lie between 0 and 1, got {alpha}")
    variants = group_variants(runs)
    studies = build_studies(variants, reference=reference, within=within)
    metrics = metric_columns(runs)
    analysis = Analysis(str(logdir), list(runs), variants, studies, metrics, alpha, include_incomplete)
    for study in studies:
        analysis.primary[study], analysis.primary_source[study] = _choose_primary(study, metrics, primary)
    first = analysis.primary[studies[0]]
    analysis.metrics = [first, *(tag for tag in metrics if tag != first)]
    for study in studies:
        _exclude(analysis, study)
        if mixed_styles([variant.settings for variant in study.variants]):
            study.notes.append(NOT_RANKED)
        for variant in study.variants:
            for tag in analysis.metrics:
                if not measures(variant.settings, tag):
                    continue  # a per-style metric of a style this network does not hold
                _fill_cell(analysis, study, variant, tag)
            analysis.convergence[variant] = _convergence(analysis, variant, analysis.primary[study])
    _compare(analysis)
    return analysis


def _exclude(analysis: Analysis, study: Study) -> None:
    logged = {tag for run in study.runs for tag in run.final if tag in analysis.metrics}
    for variant in study.variants:
        seen: dict[int, RunSummary] = {}
        for run in variant.runs:
            reason = _run_level_reason(run, analysis.include_incomplete)
            if reason is None and run.seed is not None and run.seed in seen:
                reason = f"repeat of seed {run.seed} ({seen[run.seed].name} is used): not an independent sample"
            if reason is not None:
                analysis.exclusions.append(Exclusion(run, variant, reason))
                continue
            if run.seed is not None:
                seen[run.seed] = run
            if run.status == INCOMPLETE:
                analysis.flagged.append(run)
            problems: dict[str, list[str]] = {}
            expected = (tag for tag in logged if measures(variant.settings, tag))
            for tag in sorted(expected, key=analysis.metrics.index):
                if tag not in run.final:
                    problems.setdefault("never logged", []).append(tag)
                elif not math.isfinite(run.final[tag]):
                    kind = "final value non-finite" if tag in run.metrics else "no finite value logged"
                    problems.setdefault(kind, []).append(f"{tag} = {run.final[tag]} at step {run.final_step[tag]}")
            if problems:
                reason = "; ".join(f"{kind}: {', '.join(items)}" for kind, items in problems.items())
                tags = tuple(
                    tag
                    for tag in analysis.metrics
                    if tag in logged and measures(variant.settings, tag) and _left_out_of(run, tag)
                )
                analysis.exclusions.append(Exclusion(run, variant, reason, tags))


def _left_out_of(run: RunSummary, tag: str) -> bool:
    return tag not in run.final or not math.isfinite(run.final[tag])


def _fill_cell(analysis: Analysis, study: Study, variant: Variant, tag: str) -> None:
    if not any(tag in run.final for run in study.runs):
        return
    runs = [run for run in analysis.averaged_runs(variant) if not _left_out_of(run, tag)]
    values = [run.final[tag] for run in runs]
    analysis.cells[(variant, tag)] = Cell(runs, values, summarize(values))


def _convergence(analysis: Analysis, variant: Variant, tag: str) -> Convergence:
    cell = analysis.cells.get((variant, tag))
    if cell is None or not cell.runs:
        return Convergence("unknown", why=f"no run averaged in for {tag}")
    changes = [late_change(run.series.get(tag, [])) for run in cell.runs]
    return variant_convergence(changes, cell.summary.std, cell.summary.mean, higher_is_better(tag))


def _compare(analysis: Analysis) -> None:
    families: dict[str, list[str]] = {}  # Holm's family -> its metrics
    for tag in analysis.metrics:
        families.setdefault(correction_family(tag), []).append(tag)
    for tags in families.values():
        _compare_family(analysis, tags)
    grouped = [family for family, tags in families.items() if len(tags) > 1]
    if grouped:
        note = CORRECTED_OVER_STYLES.format(families="; ".join(f"{f}: {', '.join(families[f])}" for f in grouped))
        for study in {c.study for c in analysis.comparisons if correction_family(c.tag) in grouped}:
            study.notes.append(note)


def _compare_family(analysis: Analysis, tags: Sequence[str]) -> None:
    """Test every variant against its reference on ``tags``, Holm-corrected over all those tests."""
    pending = []
    for tag in tags:
        for study in analysis.studies:
            for variant in study.variants:
                reference = study.references.get(variant)
                if reference is None or reference is variant:
                    continue
                if not comparable(variant.settings, reference.settings, tag):
                    if NOT_COMPARED not in study.notes:
                        study.notes.append(NOT_COMPARED)
                    continue
                mine, theirs = analysis.cells.get((variant, tag)), analysis.cells.get((reference, tag))
                if mine is None or theirs is None:
                    continue
                pending.append((tag, study, variant, reference, welch(mine.values, theirs.values)))
    tested = [test.p for *_, test in pending if test.p is not None]
    adjusted = iter(holm(tested))
    for tag, study, variant, reference, test in pending:
        p_adjusted = next(adjusted) if test.p is not None else None
        decided = verdict(test.difference, p_adjusted, analysis.alpha, higher_is_better(tag))
        analysis.comparisons.append(Comparison(tag, study, variant, reference, test, p_adjusted, decided))


# --- statements for the report's header ---------------------------------------------------------


def recorded(runs: Sequence[RunSummary], key: str) -> str:
    """``32-true (4 runs)`` or ``bf16-mixed (2 runs), 32-true (2 runs)``; runs without it are counted."""
    counts = Counter(str(run.hparams[key]) for run in runs if str(run.hparams.get(key, "")).strip())
    parts = [f"{value} ({count} run{'s' if count != 1 else ''})" for value, count in sorted(counts.items())]
    missing = sum(1 for run in runs if not str(run.hparams.get(key, "")).strip())
    if missing:
        parts.append(f"not recorded ({missing} run{'s' if missing != 1 else ''})")
    return ", ".join(parts)


#: ``trainer/optimizer_steps_per_batch`` of runs logged before it was recorded, by model.
_LEGACY_STEPS_PER_BATCH = {"cyclegan": 2}


def steps_per_batch(runs: Sequence[RunSummary]) -> int:
    """How many optimizer steps one batch took in ``runs`` (as recorded; CycleGAN: 2, G and D)."""
    for run in runs:
        recorded_value = run.hparams.get("trainer/optimizer_steps_per_batch")
        if isinstance(recorded_value, (int, float)) and recorded_value >= 1:
            return int(recorded_value)
    models = {run.hparams.get("model") for run in runs}
    return max((_LEGACY_STEPS_PER_BATCH.get(m, 1) for m in models), default=1)


def equal_across(analysis: Analysis, study: Study) -> list[str]:
    """What the averaged-in runs of ``study`` did hold equal, measured: optimizer steps and images
    seen (batches x data/batch_size, where batches = steps / optimizer steps per batch) per variant,
    and whether the seeds of a variant agree."""
    steps: dict[Variant, set[int]] = {}
    for variant in study.variants:
        steps[variant] = {run.steps for run in analysis.averaged_runs(variant) if run.steps is not None}
    lines = []
    uneven = [v for v, s in steps.items() if len(s) > 1]
    for variant in uneven:
        lines.append(f"the runs of {variant.label} ended at different steps: {sorted(steps[variant])}")
    per_variant = {v: max(s) for v, s in steps.items() if s}
    if not per_variant:
        return [*lines, "no run averaged in: nothing to check"]
    if len(set(per_variant.values())) == 1:
        lines.append(f"optimizer steps: {next(iter(per_variant.values()))} in every variant")
    else:
        lines.append("optimizer steps differ: " + "; ".join(f"{v.label}: {s}" for v, s in per_variant.items()))
    images = {}
    per_batch = 1
    for variant, last in per_variant.items():
        batch = variant.settings.get("data/batch_size")
        per_batch = steps_per_batch(analysis.averaged_runs(variant))
        if isinstance(batch, int) and not isinstance(batch, bool):
            images[variant] = last // per_batch * batch
    how = "steps x data/batch_size"
    if per_batch != 1:
        how = f"steps / {per_batch} optimizer steps per batch x data/batch_size"
    if images and len(images) == len(per_variant):
        if len(set(images.values())) == 1:
            lines.append(f"images seen ({how}): {next(iter(images.values()))} in every variant")
        else:
            lines.append(f"images seen ({how}) differ: " + "; ".join(f"{v.label}: {n}" for v, n in images.items()))
    return lines
