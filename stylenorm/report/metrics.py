"""Which metrics go in the table, and which value of each is the best."""

from __future__ import annotations

from collections.abc import Sequence

from stylenorm.report.runs import RunSummary

#: Training losses worth a column (the style/autoencoder total, CycleGAN's generator total); the
#: individual components stay in TensorBoard so the table stays readable.
TRAIN_COLUMNS = ("train/loss", "train/G")

#: Name parts of metrics that grow as results improve; every other metric is an error or a loss.
_HIGHER_IS_BETTER = ("psnr", "ssim")


def higher_is_better(tag: str) -> bool:
    """The one direction rule: PSNR and SSIM tags are better high; losses, L1, gaps, content and style
    terms (everything else) are better low."""
    name = tag.rsplit("/", 1)[-1].lower()
    return any(part in name for part in _HIGHER_IS_BETTER)


def metric_columns(runs: Sequence[RunSummary]) -> list[str]:
    """All ``val/*`` tags (in order of first appearance) then the training totals; columns no run
    has a value for are left out."""
    columns: list[str] = []
    for run in runs:
        columns += [tag for tag in run.metrics if tag.startswith("val/") and tag not in columns]
    columns += [tag for tag in TRAIN_COLUMNS if any(tag in run.metrics for run in runs)]
    return columns


def best_runs(runs: Sequence[RunSummary], tag: str) -> set[int]:
    """Indices into ``runs`` holding the best value of ``tag`` (ties all count).

    Compared within each model only: the models' losses are on different scales, so a style loss
    beating an autoencoder loss means nothing. A model with a single value for the tag has nothing
    to beat and gets no mark.
    """
    best: set[int] = set()
    for model in {run.model for run in runs}:
        scored = [(i, run.metrics[tag]) for i, run in enumerate(runs) if run.model == model and tag in run.metrics]
        if len(scored) < 2:
            continue
        pick = max if higher_is_better(tag) else min
        target = pick(value for _, value in scored)
        best |= {i for i, value in scored if value == target}
    return best
