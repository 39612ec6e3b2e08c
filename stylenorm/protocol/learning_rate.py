"""Learning rates of the study protocol (docs/ablations-protocol.md): ``scaled_lr``, the ``${scaled_lr:...}``
resolver (the linear scaling rule of Goyal et al. 2017), and :func:`best_lr`, the tuning stage's choice per
variant. No torch or pandas import at load: ``train.py`` registers the resolver before ``--help``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

LR_SCALING_RULES = ("none", "linear")


def scaled_lr(lr: float, factor: float, batch_size: int, reference_batch: int, rule: str) -> float:
    """``lr x factor`` (the tuning multiplier), times ``batch_size / reference_batch`` when ``rule`` is linear."""
    if rule not in LR_SCALING_RULES:
        raise ValueError(f"protocol.lr_scaling={rule!r}: expected none or linear (lr x batch / reference_batch).")
    value = float(lr) * float(factor)
    if rule == "linear":
        if int(reference_batch) < 1:
            raise ValueError(f"protocol.reference_batch must be a positive batch size, got {reference_batch!r}.")
        value *= int(batch_size) / int(reference_batch)
    return value


def best_lr(runs: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    """Per ``variant``, the ``lr`` with the best mean ``metric`` over seeds: ``variant, lr, mean, seeds, tried,
    at_edge``. A diverged seed makes its lr's mean NaN (ranked last); ties go to the smaller lr."""
    import pandas as pd

    if missing := [column for column in ("variant", "lr", "metric") if column not in runs.columns]:
        raise ValueError(f"best_lr needs the columns {missing}; the frame has {list(runs.columns)}.")
    if runs.empty:
        raise ValueError("best_lr got no runs; point it at a finished tuning sweep.")
    score = runs["metric"].where(runs["metric"].map(math.isfinite))
    means = score.groupby([runs["variant"], runs["lr"]]).agg(mean=lambda s: s.mean(skipna=False), seeds="size")
    rows = []
    for name, group in means.reset_index().groupby("variant"):
        tried = sorted(group["lr"])
        scored = group.dropna(subset=["mean"]).sort_values("lr", kind="stable")
        if scored.empty:
            raise ValueError(f"Every learning rate of variant {name!r} diverged ({tried}); try smaller ones.")
        chosen = scored.loc[scored["mean"].idxmax() if higher_is_better else scored["mean"].idxmin()]
        at_edge = chosen["lr"] in (tried[0], tried[-1]) and len(tried) > 1
        row = {"variant": name, "lr": chosen["lr"], "mean": chosen["mean"], "seeds": int(chosen["seeds"])}
        rows.append({**row, "tried": tried, "at_edge": at_edge})
    return pd.DataFrame(rows)
