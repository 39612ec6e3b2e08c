"""What the learned norms chose, layer by layer, read from a committed report's logged steps.

Switchable norm (Luo et al. 2019): the softmax weights of IN, LN and BN in the mean *and* in the variance;
batch-instance norm (Nam & Kim 2018): the gate rho (1 = BN, 0 = IN). Placed in docs/ablations.md by
``{{mixtures NAME}}``; the callback that logs them: stylenorm/callbacks/norm_statistics.py.
"""

from __future__ import annotations

import pandas as pd

from stylenorm.report.frame import RunTable

TAG = r"^norm_mix/(?P<network>[^/]+)/(?P<layer>.+?)/(?P<weight>mean_weight|var_weight|rho)(?:/(?P<statistic>\w+))?$"
STATISTICS = {"instance": "IN", "layer": "LN", "batch": "BN"}
GROUP = "data.known_answer"


def final_mixtures(table: RunTable) -> pd.DataFrame:
    """One row per finished run and learned weight at the run's last logged step: task, kind, seed, network,
    layer, weight (mean_weight / var_weight / rho), statistic (instance / layer / batch, or empty), value."""
    steps = table.steps[table.steps["metric"].str.startswith("norm_mix/")].dropna(subset=["value"])
    last = steps.sort_values("step", kind="stable").groupby(["run", "metric"], sort=False).tail(1)
    parts = last["metric"].str.extract(TAG)
    runs = table.runs[table.runs["status"] == "finished"].set_index("run")
    task = (
        runs[GROUP].astype(object).fillna("reconstruction")
        if GROUP in runs
        else pd.Series("reconstruction", runs.index)
    )
    frame = pd.concat([last[["run", "value"]], parts], axis=1).dropna(subset=["weight"])
    frame = frame[frame["run"].isin(runs.index)]
    return frame.assign(
        task=frame["run"].map(task), kind=frame["run"].map(runs["norm.kind"]), seed=frame["run"].map(runs["seed"])
    ).fillna({"statistic": ""})


def _cell(values: pd.Series) -> str:
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}" if len(values) > 1 else f"{values.mean():.2f}"


def mixture_tables(table: RunTable) -> str:
    """Markdown: per task, a row per layer (logged order) with the mean ± SD over seeds of each weight, and a
    line counting the layers where IN's weight is the largest and the smallest."""
    frame = final_mixtures(table)
    if frame.empty:
        return "No learned-norm weights logged in this report (norm_mix/... tags)."
    frame["column"] = frame.apply(_column, axis=1)
    frame["layer"] = frame["network"] + "/" + frame["layer"]
    out = []
    for task, rows in frame.groupby("task", sort=False):
        seeds = rows.groupby("kind")["seed"].nunique().to_dict()
        order = list(dict.fromkeys(rows["layer"]))
        cells = rows.groupby(["layer", "column"], sort=False)["value"].apply(_cell).unstack()
        columns = [c for c in _COLUMNS if c in cells.columns]
        out.append(f"**{task}** (seeds per kind: {', '.join(f'{k} {n}' for k, n in sorted(seeds.items()))})\n")
        out.append(cells.loc[order, columns].reset_index().to_markdown(index=False, disable_numparse=True))
        out.append("\n" + _in_share(rows) + "\n")
    return "\n".join(out)


_COLUMNS = [f"SN {w} {s}" for w in ("mean", "var") for s in STATISTICS.values()] + ["BIN rho (1 = BN)"]


def _column(row: pd.Series) -> str:
    if row["weight"] == "rho":
        return "BIN rho (1 = BN)"
    return f"SN {row['weight'].split('_')[0]} {STATISTICS[row['statistic']]}"


def _in_share(rows: pd.DataFrame) -> str:
    """Switchable: in how many layers IN's seed-mean weight is the largest / the smallest of the three."""
    sn = rows[rows["weight"] != "rho"]
    if sn.empty:
        return ""
    means = sn.groupby(["weight", "layer", "statistic"])["value"].mean().unstack("statistic")
    parts = []
    for weight, name in (("mean_weight", "mean"), ("var_weight", "variance")):
        if weight not in means.index.get_level_values(0):
            continue
        per_layer = means.loc[weight]
        largest = int((per_layer.idxmax(axis=1) == "instance").sum())
        smallest = int((per_layer.idxmin(axis=1) == "instance").sum())
        parts.append(
            f"IN has the largest {name} weight in {largest} of {len(per_layer)} layers and the smallest in {smallest}"
        )
    return "Switchable, seed means: " + "; ".join(parts) + "." if parts else ""
