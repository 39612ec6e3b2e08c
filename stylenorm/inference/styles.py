"""Choosing the style of a multi-style checkpoint (conditional instance norm; Dumoulin, Shlens &
Kudlur 2017, "A Learned Representation for Artistic Style").

A network trained with ``norm=conditional_instance`` holds one gamma/beta row per style in every
norm layer. :func:`choose_style` bakes one style (``--style K``) or a convex combination of the rows
(``--style-mix 0.3,0.7``, Sec. 5 of the paper) into plain affine instance norm layers, so that the
stylize command, tiling and export all see an ordinary one-style network. Mix weights must be
non-negative and sum to 1 (within :data:`MIX_SUM_TOLERANCE`, for typed decimals): other sums are
refused, not renormalised, so a mix means what it says.
A one-hot mix gives exactly that style's network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike

import torch
from torch import nn

from stylenorm.nn.conditional_instance_norm import bake_style, num_styles

#: How far from 1 a mix's sum may be (typed decimals such as 0.333,0.333,0.333); beyond it, refused.
MIX_SUM_TOLERANCE = 1e-3

#: ``style=`` of :func:`~stylenorm.inference.loading.load_stylizer`: an index or mix weights.
StyleChoice = int | Sequence[float] | None


def parse_style_mix(text: str) -> list[float]:
    """``"0.3,0.7"`` -> ``[0.3, 0.7]`` (the ``--style-mix`` syntax)."""
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--style-mix {text!r}: expected comma-separated numbers, e.g. --style-mix 0.3,0.7.") from None
    return weights


def convex_weights(values: Sequence[float], flag: str, what: str) -> torch.Tensor:
    """``values`` as a float32 tensor after the checks every mix shares: finite, non-negative, summing to 1
    within :data:`MIX_SUM_TOLERANCE` (refused otherwise, naming ``flag`` and a sum-1 suggestion).
    ``what`` names what is mixed (``styles``). Within the tolerance, the sum is divided out: the rounding
    of typed decimals (0.333,0.333,0.334) does not scale the result."""
    shown = ",".join(f"{w:g}" for w in values)
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise ValueError(f"{flag} {shown}: mix weights must be non-negative (a convex combination of the {what}).")
    total = sum(values)
    if abs(total - 1) > MIX_SUM_TOLERANCE:
        one_hot = ",".join(["1"] + ["0"] * (len(values) - 1))
        suggestion = ",".join(f"{w / total:.3g}" for w in values) if total > 0 else one_hot
        raise ValueError(
            f"{flag} {shown} sums to {total:g}; the weights must sum to 1 (a convex combination; they are not "
            f"rescaled for you). Did you mean {flag} {suggestion}?"
        )
    return torch.tensor([w / total for w in values], dtype=torch.float32)


def describe_style(style: StyleChoice) -> str:
    if style is None:
        return ""
    if isinstance(style, int):
        return f", style {style}"
    return ", style mix " + ",".join(f"{w:g}" for w in style)


def choose_style(network: nn.Module, style: StyleChoice, source: str | PathLike) -> str:
    """Bake ``style`` into ``network`` in place when it is a conditional one; returns a note for the
    stylizer's description. Refuses, naming the fix: a style for a network without styles, no style
    for a network with several, an index out of range, mix weights of the wrong length, negative or
    not summing to 1."""
    count = num_styles(network)
    if count == 0:
        if style is not None:
            raise ValueError(
                f"--style/--style-mix (style=) choose among the styles of a checkpoint trained with "
                f"norm=conditional_instance; {source} holds one style in its weights (no conditional instance "
                f"norm layers). Leave --style/--style-mix out."
            )
        return ""
    if style is None:
        if count > 1:
            raise ValueError(
                f"{source} holds {count} styles (norm=conditional_instance): choose one with --style K "
                f"(0..{count - 1}, in the order of the run's data.style_images) or mix them with --style-mix "
                f"w0,...,w{count - 1} (non-negative, summing to 1); style= in load_stylizer."
            )
        style = 0
    if isinstance(style, bool) or not isinstance(style, (int, Sequence, torch.Tensor)):
        raise ValueError(f"style= must be an int (--style K) or a list of mix weights (--style-mix), got {style!r}.")
    if isinstance(style, int):
        if not 0 <= style < count:
            raise ValueError(
                f"--style {style} is out of range: {source} holds {count} styles, use --style 0..{count - 1}."
            )
        bake_style(network, style)
        return describe_style(style) if count > 1 else ""
    values = [float(w) for w in (style.reshape(-1).tolist() if isinstance(style, torch.Tensor) else style)]
    shown = ",".join(f"{w:g}" for w in values)
    if len(values) != count:
        raise ValueError(
            f"--style-mix {shown} has {len(values)} weight(s) but {source} holds {count} styles: give one weight "
            f"per style, e.g. --style-mix {','.join(['1'] + ['0'] * (count - 1))}."
        )
    bake_style(network, convex_weights(values, "--style-mix", "styles"))
    return describe_style(values)
