"""What the learned norms chose, layer by layer, read from a committed report's logged steps: switchable norm's
(Luo et al. 2019) softmax weights of IN, LN and BN in the mean and the variance, batch-instance norm's (Nam &
Kim 2018) gate rho (1 = BN). Placed in docs/ablations.md by ``{{mixtures NAME}}``; logged by
stylenorm/callbacks/norm_statistics.py.
"""

from __future__ import annotations

import pandas as pd

from stylenorm.report.frame import RunTable

TAG = r"^norm_mix/(?P<network>[^/]+)/(?P<layer>.+?)/(?P<weight>mean_weight|var_weight|rho)(?:/(?P<statistic>\w+))?$"
STATISTICS = {"instance": "IN", "layer": "LN", "batch": "BN"}
GROUP = "data.known_answer"
RHO = "BIN rho (1 = BN)"
COLUMNS = [f"SN {w} {s}" for w in ("mean", "var") for s in STATISTICS.values()] + [RHO]


def final_mixtures(table: RunTable) -> pd.DataFrame:
    """Per finished run and learned weight, its last logged value: run, value, network, layer, weight
    (mean_weight / var_weight / rho), statistic (instance / layer / batch, or empty), task, kind, seed."""
    steps = table.steps[table.steps["metric"].str.startswith("norm_mix/")].dropna(subset=["value"])
    last = steps.sort_values("step", kind="stable").groupby(["run", "metric"], sort=False).tail(1)
    runs = table.runs[table.runs["status"] == "finished"].set_index("run")
    task = runs.get(GROUP, pd.Series(None, runs.index, dtype=object)).astype(object).fillna("reconstruction")
    frame = pd.concat([last[["run", "value"]], last["metric"].str.extract(TAG)], axis=1).dropna(subset=["weight"])
    frame = frame[frame["run"].isin(runs.index)]
    return frame.assign(
        task=frame["run"].map(task), kind=frame["run"].map(runs["norm.kind"]), seed=frame["run"].map(runs["seed"])
    ).fillna({"statistic": ""})


def _cell(values: pd.Series) -> str:
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}" if len(values) > 1 else f"{values.mean():.2f}"


def _column(row: pd.Series) -> str:
    return RHO if row["weight"] == "rho" else f"SN {row['weight'].split('_')[0]} {STATISTICS[row['statistic']]}"


def mixture_tables(table: RunTable) -> str:
    """Markdown per task: a row per layer (logged order), each weight's mean ± SD over seeds, and where IN leads."""
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
        columns = [c for c in COLUMNS if c in cells.columns]
        out.append(f"**{task}** (seeds per kind: {', '.join(f'{k} {n}' for k, n in sorted(seeds.items()))})\n")
        out.append(cells.loc[order, columns].reset_index().to_markdown(index=False, disable_numparse=True))
        out.append("\n" + _in_share(rows) + "\n")
    return "\n".join(out)


def _in_share(rows: pd.DataFrame) -> str:
    """Switchable: in how many layers IN's seed-mean weight is the largest / the smallest of the three."""
    means = rows[rows["weight"] != "rho"].groupby(["weight", "layer", "statistic"])["value"].mean()
    parts = []
    for weight, name in (("mean_weight", "mean"), ("var_weight", "variance")):
        if weight not in means.index.get_level_values(0):
            continue
        per_layer = means.loc[weight].unstack("statistic")
        largest = int((per_layer.idxmax(axis=1) == "instance").sum())
        smallest = int((per_layer.idxmin(axis=1) == "instance").sum())
        parts.append(
            f"IN has the largest {name} weight in {largest} of {len(per_layer)} layers and the smallest in {smallest}"
        )
    return "Switchable, seed means: " + "; ".join(parts) + "." if parts else ""
