"""Choosing the style of a multi-style checkpoint (conditional instance norm; Dumoulin, Shlens &
Kudlur 2017, "A Learned Representation for Artistic Style").

A network trained with ``norm=conditional_instance`` holds one gamma/beta row per style in every
norm layer. :func:`choose_style` bakes one style (``--style K``) or a convex combination of the rows
(``--style-mix 0.3,0.7``, Sec. 5 of the paper) into plain affine instance norm layers, so that the
stylize command, tiling and export all see an ordinary one-style network. Mix weights follow
:func:`stylenorm.nn.conditional_instance_norm.convex_weights`; a one-hot mix is exactly that style.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import torch
from torch import nn

from stylenorm.nn.conditional_instance_norm import Style, conditional_layers, convex_weights, num_styles, set_style
from stylenorm.nn.norm import NormSpec

#: ``style=`` of :func:`~stylenorm.inference.loading.load_stylizer`: an index or mix weights.
StyleChoice = int | Sequence[float] | None


def parse_weights(text: str, flag: str) -> list[float]:
    """``"0.3,0.7"`` -> ``[0.3, 0.7]``: the syntax of every weight list (``--style-mix``, ``--style-weights``)."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected comma-separated numbers, e.g. {flag} 0.3,0.7.") from None


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


@torch.no_grad()
def bake_style(module: nn.Module, style: Style) -> nn.Module:
    """Replace, in place, every conditional layer by an affine instance norm with the chosen style's
    (or mix's) gamma and beta; returns ``module``.

    ``style``: an int (that style's row, exactly) or ``num_styles`` mix weights (non-negative, summing to
    1; their convex combination of the rows). The result is a plain one-style network, for the
    stylize command and export.
    """
    set_style(module, style)  # refuses a network without conditional layers
    if style is None or (isinstance(style, torch.Tensor) and style.dim() > 1):
        raise ValueError("bake_style needs one style for the whole network: an int or a list of mix weights.")
    replacements = {}
    for layer in conditional_layers(module):
        gamma, beta = layer.style_parameters(1)
        plain = NormSpec(kind="instance", affine=True, eps=layer.eps)(layer.num_features, name="baked style")
        plain.weight.copy_(gamma[0])
        plain.bias.copy_(beta[0])
        replacements[layer] = plain.to(layer.weight.device)
    if module in replacements:  # a lone layer
        return replacements[module]
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if child in replacements:
                setattr(parent, name, replacements[child])
    return module
