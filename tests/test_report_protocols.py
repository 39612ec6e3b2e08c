"""A claim's verdict under each learning-rate protocol, and what follows from both (issue 24's rule)."""

from types import SimpleNamespace

import pandas as pd
import pytest

from stylenorm.report.docs import learning_rate_protocol, protocol_table
from stylenorm.report.frame import ReportError


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
