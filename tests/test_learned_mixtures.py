"""The learned norms' weights in docs/ablations.md: the last logged value per run, mean ± SD over seeds."""

import statistics

import numpy as np
import pandas as pd

from stylenorm.report.frame import RunTable
from stylenorm.report.learned_mixtures import final_mixtures, mixture_tables

LAYERS = ("enc1.norm", "dec1.norm")


def _table() -> RunTable:
    rng = np.random.default_rng(0)
    runs = pd.DataFrame(
        {
            "run": ["sn0", "sn1", "bin0", "crashed"],
            "status": ["finished", "finished", "finished", "crashed"],
            "norm.kind": ["switchable", "switchable", "batch_instance", "switchable"],
            "seed": [0, 1, 0, 2],
            "data.known_answer": [np.nan] * 4,
        }
    )
    # at the last step IN leads enc1 and trails dec1, in the mean and the variance weights; step 200 is uniform
    shapes = {"enc1.norm": [0.5, 0.3, 0.2], "dec1.norm": [0.1, 0.3, 0.6]}
    rows = []
    for run in ("sn0", "sn1", "crashed"):
        for layer, shape in shapes.items():
            for weight in ("mean_weight", "var_weight"):
                d = rng.uniform(-0.05, 0.05)
                for step, w in ((200, [1 / 3] * 3), (600, [shape[0] + d, shape[1], shape[2] - d])):
                    for statistic, value in zip(("instance", "layer", "batch"), w, strict=True):
                        rows.append((run, step, f"norm_mix/autoencoder/{layer}/{weight}/{statistic}", value))
    for layer in LAYERS:
        rows += [
            ("bin0", 200, f"norm_mix/autoencoder/{layer}/rho", 0.9),
            ("bin0", 600, f"norm_mix/autoencoder/{layer}/rho", 0.7),
        ]
    rows.append(("sn0", 600, "val/psnr", 20.0))
    return RunTable(runs, pd.DataFrame(rows, columns=["run", "step", "metric", "value"]))


def test_each_run_contributes_its_last_logged_weights_and_crashed_runs_none():
    table = _table()
    final = final_mixtures(table)
    assert set(final["run"]) == {"sn0", "sn1", "bin0"}
    steps = table.steps.set_index(["run", "metric"])
    expected = steps[steps["step"] == 600]["value"]
    for _, row in final.iterrows():
        tag = f"norm_mix/autoencoder/{row['layer']}/{row['weight']}" + (
            f"/{row['statistic']}" if row["statistic"] else ""
        )
        assert row["value"] == expected.loc[(row["run"], tag)]
    assert set(final["task"]) == {"reconstruction"}


def test_the_table_holds_seed_means_and_sds_and_counts_where_in_leads():
    table = _table()
    text = mixture_tables(table)
    steps = table.steps[table.steps["step"] == 600]
    for layer in LAYERS:
        tag = f"norm_mix/autoencoder/{layer}/var_weight/layer"
        values = steps[(steps["metric"] == tag) & steps["run"].isin(["sn0", "sn1"])]["value"].tolist()
        assert f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" in text
    assert "0.70" in text  # the BIN gate at its last step (one seed: no SD)
    assert "IN has the largest mean weight in 1 of 2 layers and the smallest in 1" in text
    assert "IN has the largest variance weight in 1 of 2 layers and the smallest in 1" in text
    assert "switchable 2" in text and "batch_instance 1" in text


def test_a_report_without_learned_norms_says_so():
    table = _table()
    table.steps = table.steps[~table.steps["metric"].str.startswith("norm_mix/")]
    assert "No learned-norm weights" in mixture_tables(table)
