"""A claim's verdict under each learning-rate protocol, and what follows from both (issue 24's rule)."""

from types import SimpleNamespace

import pandas as pd
import pytest

from stylenorm.report.docs import learning_rate_protocol, protocol_table
from stylenorm.report.document import learning_rate_line
from stylenorm.report.frame import ReportError, RunTable


def test_a_final_stage_is_tuned_and_anything_else_shared():
    assert learning_rate_protocol(pd.DataFrame({"protocol.stage": ["final", "final"]})) == "tuned"
    assert learning_rate_protocol(pd.DataFrame({"protocol.stage": ["shared", "shared"]})) == "shared"
    assert learning_rate_protocol(pd.DataFrame({"seed": [0, 1]})) == "shared"  # a preset without the protocol


def test_a_report_that_mixes_stages_is_refused_by_name():
    with pytest.raises(ReportError, match="mixes a final stage"):
        learning_rate_protocol(pd.DataFrame({"protocol.stage": ["final", "shared"]}))


def _rows(verdicts):
    names = ("both", "disagree", "unknown_tuned", "unknown_shared", "shared_only", "tuned_only", "none")
    claims = [("p", SimpleNamespace(id=i)) for i in names]
    table = protocol_table(verdicts, claims)
    return {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in table.splitlines()[2:]}


def test_a_claim_holds_only_where_both_protocols_agree_and_the_table_says_which_otherwise():
    rows = _rows(
        {
            ("p", "both"): [("[a](#a)", "supported", "shared"), ("[b](#b)", "supported", "tuned")],
            ("p", "disagree"): [("[a](#a)", "supported", "shared"), ("[b](#b)", "contradicted", "tuned")],
            ("p", "unknown_tuned"): [("[a](#a)", "supported", "shared"), ("[b](#b)", "inconclusive", "tuned")],
            ("p", "unknown_shared"): [("[a](#a)", "inconclusive", "shared"), ("[b](#b)", "supported", "tuned")],
            ("p", "shared_only"): [("[a](#a)", "contradicted", "shared")],
            ("p", "tuned_only"): [("[b](#b)", "supported", "tuned")],
        }
    )
    assert rows["`p:both`"] == "supported under both"
    assert rows["`p:disagree`"].startswith("the protocols disagree")
    # inconclusive under one protocol is unknown there, not a disagreement: the row says where the claim holds
    assert (
        rows["`p:unknown_tuned`"]
        == "supported at the shared learning rate only (inconclusive at the tuned learning rates)"
    )
    assert (
        rows["`p:unknown_shared`"]
        == "supported at the tuned learning rates only (inconclusive at the shared learning rate)"
    )
    assert rows["`p:shared_only`"] == "shared learning rate only"
    assert rows["`p:tuned_only`"] == "tuned learning rates only"
    assert rows["`p:none`"] == "not run yet"


def _tuned_runs(lrs: dict[tuple[str, int], float]) -> RunTable:
    rows = [
        {
            "run": f"{kind}-{batch}/{seed}", "status": "finished", "seed": seed, "overrides": f"norm={kind}",
            "norm.kind": kind, "norm.track_running_stats": kind == "batch", "data.batch_size": batch,
            "model.lr": lr, "protocol.variant": f"norm-{kind}",
        }
        for (kind, batch), lr in lrs.items() for seed in (0, 1)
    ]  # fmt: skip
    return RunTable(pd.DataFrame(rows), pd.DataFrame(columns=["run", "step", "metric", "value"]))


def test_the_report_names_each_variants_learning_rate_from_its_runs():
    # the chosen rates are read from the runs, so the document cannot drift from what ran
    line = learning_rate_line(_tuned_runs({("batch", 16): 2.5e-4, ("instance", 16): 4e-3}))
    assert line == "- **Learning rate** by variant (`model.lr`): kind=batch 0.00025; kind=instance 0.004."
    # a second varied setting stays in the label once the rate no longer tells the variants apart
    # (and batch sizes in numeric order: 2 before 16)
    line = learning_rate_line(_tuned_runs({("batch", 16): 4e-4, ("batch", 2): 1e-4, ("group", 2): 1e-4}))
    assert "kind=batch, batch_size=2 0.0001; kind=batch, batch_size=16 0.0004; kind=group, batch_size=2 0.0001" in line
    # one rate for every run is a held-equal setting, not a line of its own
    assert learning_rate_line(_tuned_runs({("batch", 16): 1e-3, ("instance", 16): 1e-3})) is None
