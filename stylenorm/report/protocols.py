"""Which learning-rate protocol a report's runs followed, and whether each claim holds under both.

Issue 24's rule (docs/ablations-protocol.md): a claim holds only if it holds at the shared learning rate
and at each variant's tuned one, or the document says which protocol it rests on.
"""

from __future__ import annotations

import pandas as pd

from stylenorm.report.frame import ReportError

SHARED, TUNED = "shared", "tuned"


def learning_rate_protocol(runs: pd.DataFrame) -> str:
    """``tuned`` when the runs are a final stage (``protocol.stage=final``), else ``shared``: one rate for
    every variant, whether set by ``protocol=shared`` or fixed by a preset without the protocol."""
    stages = set(runs.get("protocol.stage", pd.Series(dtype=object)).dropna().astype(str))
    if stages == {"final"}:
        return TUNED
    if "final" in stages:
        raise ReportError(f"a report mixes a final stage with other stages ({sorted(stages)}): report them apart")
    return SHARED


def _status(shared: list[str], tuned: list[str]) -> str:
    if not shared and not tuned:
        return "not run yet"
    if not tuned:
        return "shared learning rate only"
    if not shared:
        return "tuned learning rates only"
    verdicts = set(shared) | set(tuned)
    if len(verdicts) > 1:
        return "the protocols disagree: it holds under neither alone"
    return f"{verdicts.pop()} under both"


def protocol_table(verdicts: dict[tuple[str, str], list[tuple[str, str, str]]], declared) -> str:
    """One row per declared claim: its verdicts at the shared and at the tuned learning rates
    (``verdicts[(preset, claim id)]``: (report link, verdict, protocol)) and what follows from both."""
    rows = []
    for preset, claim in declared:
        found = verdicts.get((preset, claim.id), [])
        by = {p: [v for _, v, q in found if q == p] for p in (SHARED, TUNED)}
        cells = {p: "; ".join(f"{v} ({link})" for link, v, q in found if q == p) or "—" for p in (SHARED, TUNED)}
        rows.append(
            {
                "claim": f"`{preset}:{claim.id}`",
                "shared learning rate": cells[SHARED],
                "tuned learning rates": cells[TUNED],
                "holds": _status(by[SHARED], by[TUNED]),
            }
        )
    return pd.DataFrame(rows).to_markdown(index=False)
