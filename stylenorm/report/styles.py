"""Which styles a style-transfer network holds, so that networks holding different styles are compared
style by style.

One conditional-instance-norm network holds N styles (Dumoulin, Shlens & Kudlur 2017, "A Learned
Representation for Artistic Style"); it logs ``val/style_K``, ``val/content_K``, ``val/total_K`` per
style K, and its ``val/style``, ``val/content``, ``val/total`` (and its training loss) are means over
the N styles. A one-style network told which style of such a set it learned (``model.style_index``,
recorded as ``style_index``) logs its losses under the same per-style names. Read from the runs'
hparams:

* ``style_index`` K (an int) - the network holds style {K};
* else ``norm/num_styles`` N (conditional instance norm only) - it holds styles {0, ..., N-1};
* else unknown: an ordinary one-style network, compared as every other run.

Three rules follow, and nothing else changes:

1. A variant does not measure the per-style metrics of styles it does not hold: separate_0 has no
   ``val/style_1`` cell, and is not "left out" of it.
2. Two variants that hold different styles are compared on the per-style metrics of the styles they
   share only. A mean over three styles against one style's loss would be a comparison of different
   quantities; ``val/style_1`` of the 3-style network against ``val/style_1`` of the style-1 network
   is the comparison the paper makes.
3. Holm's correction runs over a per-style term's styles together (``val/style_0..N``): one
   family per term, as every other metric is one family (:func:`correction_family`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: ``val/style_2`` -> ("style", 2): the loss terms the style task logs per style.
PER_STYLE_TAG = re.compile(r"^val/(?P<term>content|style|total)_(?P<index>\d+)$")

#: The notes the report prints when rule 2 held a comparison back, and when ranks are left out.
NOT_COMPARED = (
    "variants holding different styles (hparams style_index / norm/num_styles) are compared only on the "
    "per-style metrics of the styles they share (val/style_K, val/content_K, val/total_K): their other "
    "metrics are means over different sets of styles"
)
CORRECTED_OVER_STYLES = "Holm's correction of a per-style metric runs over all its styles together ({families})"
NOT_RANKED = "variants hold different styles: no rank (a mean over styles and one style's loss are not one scale)"


def correction_family(tag: str) -> str:
    """The metrics Holm's correction runs over together: one per-style term over all its styles
    (``val/style_0``, ``val/style_1``, ... -> ``val/style_K``), since "is the shared network worse on
    any style?" is one question asked once per style; every other metric on its own."""
    match = PER_STYLE_TAG.fullmatch(tag)
    return f"val/{match['term']}_K" if match else tag


def per_style_index(tag: str) -> int | None:
    """K for a per-style tag (``val/style_K``, ``val/content_K``, ``val/total_K``), else None."""
    match = PER_STYLE_TAG.fullmatch(tag)
    return int(match["index"]) if match else None


def _as_count(value: Any) -> int | None:
    """An int hparam (not a bool, not null); hparams.yaml stores these as ints."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def styles_held(settings: Mapping[str, Any]) -> frozenset[int] | None:
    """The style indices a variant's network holds (see the module docstring), None when unknown."""
    index = _as_count(settings.get("style_index"))
    if index is not None:
        return frozenset({index})
    count = _as_count(settings.get("norm/num_styles"))
    if count is not None and count >= 1:
        return frozenset(range(count))
    return None


def measures(settings: Mapping[str, Any], tag: str) -> bool:
    """Rule 1: False only for a per-style tag of a style the network is known not to hold."""
    index = per_style_index(tag)
    held = styles_held(settings)
    return index is None or held is None or index in held


def comparable(settings: Mapping[str, Any], reference: Mapping[str, Any], tag: str) -> bool:
    """Rule 2: may ``tag`` of a variant with ``settings`` be tested against its ``reference``?"""
    mine, theirs = styles_held(settings), styles_held(reference)
    if mine is None or theirs is None or mine == theirs:
        return True
    index = per_style_index(tag)
    return index is not None and index in mine and index in theirs


def mixed_styles(settings: list[Mapping[str, Any]]) -> bool:
    """Do these variants hold different (known) sets of styles?"""
    held = {styles_held(one) for one in settings}
    held.discard(None)
    return len(held) > 1
