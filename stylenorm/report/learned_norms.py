"""The report's "what the learned norms picked" section: per layer, the last logged gate of batch-
instance norm (rho: 1 = batch statistics, 0 = instance statistics; Nam & Kim 2018) and the softmax
weights of switchable norm (IN / LN / BN, for means and for variances; Luo et al. 2018), as mean ± std
over the seeds of each variant. The values come from the ``norm_mix/<network>/<layer>/...`` scalars
the norm-statistics callback logs (:mod:`stylenorm.callbacks.norm_statistics`)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from stylenorm.callbacks.norm_statistics import MIX_TAG_ROOT
from stylenorm.nn.switchable_norm import SWITCHABLE_STATISTICS
from stylenorm.report.analysis import Analysis
from stylenorm.report.runs import RunSummary

_PREFIX = f"{MIX_TAG_ROOT}/"
_SHORT = {"instance": "IN", "layer": "LN", "batch": "BN"}
_MISSING = "n/a"


def _mean_std(values: Sequence[float]) -> str:
    if not values:
        return _MISSING
    mean = statistics.fmean(values)
    return f"{mean:.2f}" if len(values) < 2 else f"{mean:.2f} ± {statistics.stdev(values):.2f}"


def _layers(runs: Sequence[RunSummary]) -> list[str]:
    """``<network>/<layer>`` paths that logged a mixture, in the order first seen."""
    seen: dict[str, None] = {}
    for run in runs:
        for tag in run.metrics:
            if tag.startswith(_PREFIX) and tag.endswith(("/rho", "/mean_weight/instance")):
                layer = tag[len(_PREFIX) :].removesuffix("/rho").removesuffix("/mean_weight/instance")
                seen.setdefault(layer, None)
    return list(seen)


def _values(runs: Sequence[RunSummary], tag: str) -> list[float]:
    return [run.metrics[tag] for run in runs if tag in run.metrics]


def learned_norm_section(analysis: Analysis) -> list[str]:
    """Markdown lines (empty when no run logged a learned mixture)."""
    lines: list[str] = []
    for variant in analysis.variants:
        runs = analysis.averaged_runs(variant)
        layers = _layers(runs)
        if not layers:
            continue
        steps = sorted({run.final_step[t] for run in runs for t in run.final_step if t.startswith(_PREFIX)})
        lines += [f"### {variant.label}", "", f"Last logged at step {', '.join(map(str, steps))}; n = {len(runs)}.", ""]
        rows = []
        for layer in layers:
            rho = _values(runs, f"{_PREFIX}{layer}/rho")
            if rho:
                rows.append(f"| {layer} | rho (1 = BN, 0 = IN) | {_mean_std(rho)} |")
            for part in ("mean_weight", "var_weight"):
                weights = [
                    _mean_std(_values(runs, f"{_PREFIX}{layer}/{part}/{kind}")) for kind in SWITCHABLE_STATISTICS
                ]
                if any(w != _MISSING for w in weights):
                    names = " / ".join(_SHORT[kind] for kind in SWITCHABLE_STATISTICS)
                    rows.append(f"| {layer} | {part.replace('_', ' ')}s {names} | {' / '.join(weights)} |")
        lines += ["| layer | learned | value (mean ± std over seeds) |", "|---|---|---|", *rows, ""]
    if not lines:
        return []
    intro = (
        "Per layer, the channel mean of batch-instance norm's gate rho and switchable norm's softmax weights "
        "over instance / layer / batch statistics, at the last step the norm-statistics callback logged them "
        "(`norm_mix/...` scalars; their curves are in TensorBoard)."
    )
    return ["## What the learned norms picked", "", intro, "", *lines]
