"""Synthetic run folders in the run layout (configs/train.yaml; HELPERS: .hydra/config.yaml,
.hydra/overrides.yaml, metrics.csv as Lightning's CSVLogger writes it, result.json) for the report's
unit tests: the numbers are chosen by the test, so every verdict can be checked independently."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

PROVENANCE = {
    "git_commit": "0123abc",
    "git_dirty": False,
    "cpu": "AMD EPYC 9B14",
    "cpu_flags": "avx2 avx512f avx512_bf16",
    "gpu": None,
    "threads": 1,
    "torch": "2.9.0",
    "lightning": "2.5.5",
    "python": "3.12.3",
    "precision": "32-true",
}


def write_run(
    root: Path,
    name: str,
    settings: Mapping,
    curves: Mapping[str, Sequence[float]],
    *,
    steps: Sequence[int] | None = None,
    status: str = "finished",
    ablation: Mapping | None = None,
    overrides: Sequence[str] = (),
) -> Path:
    """One run folder ``root/name``: ``settings`` is the nested config; ``curves`` maps a metric to its
    value at each validation (``steps``, default 100, 200, ...). Each validation is its own row with
    the other metric cells empty, as CSVLogger writes one row per log call."""
    folder = root / name
    (folder / ".hydra").mkdir(parents=True)
    config = {"seed": 0, **settings, "ablation": dict(ablation or {})}
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    metrics = list(curves)
    count = len(next(iter(curves.values()))) if curves else 0
    steps = list(steps or [100 * (i + 1) for i in range(count)])
    lines = [",".join(["epoch", *metrics, "step"])]
    for i, step in enumerate(steps):
        for j, metric in enumerate(metrics):
            cells = ["" for _ in metrics]
            cells[j] = repr(float(curves[metric][i]))
            lines.append(",".join([str(i), *cells, str(step)]))
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    if status != "incomplete":
        final = {m: float(v[-1]) for m, v in curves.items()}
        result = {
            "status": status,
            "global_step": steps[-1] if steps else 0,
            "metrics": {k: (v if v == v else "nan") for k, v in final.items()},
            "error": None if status == "finished" else f"{status} in a test",
            "wall_seconds": 1.0,
            "overrides": list(overrides),
            "provenance": PROVENANCE,
        }
        (folder / "result.json").write_text(json.dumps(result))
    return folder


def flat_curve(score: float, count: int = 6) -> list[float]:
    """A curve that rises and then sits at ``score`` for its last half (a plateau)."""
    rise = [score - 1.0 + i / count for i in range(count // 2)]
    return rise + [score] * (count - len(rise))


def sweep(
    root: Path,
    groups: Mapping[str, tuple[Mapping, Sequence[float]]],
    ablation: Mapping,
    metric: str = "val/psnr",
    model: str = "autoencoder",
) -> Path:
    """A sweep folder: per group label, its settings (dotted-free nested dict) and one final score per
    seed; job folders are numbered like Hydra's (``<num>_<overrides>``)."""
    job = 0
    for label, (settings, values) in groups.items():
        for seed, value in enumerate(values):
            config = {"seed": seed, "model": {"name": model}, **settings}
            write_run(
                root,
                f"{job}_{label}+seed-{seed}",
                config,
                {metric: flat_curve(value)},
                ablation=ablation,
                overrides=[f"experiment={ablation.get('preset', 'x')}", f"variant={label}", f"seed={seed}"],
            )
            job += 1
    return root
