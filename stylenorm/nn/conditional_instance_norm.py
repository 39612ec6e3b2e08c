"""Conditional instance norm (Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for
Artistic Style", eq. 5): instance norm whose scale and shift are looked up per style,

    z = gamma_s * (x - mu(x)) / sigma(x) + beta_s,   gamma, beta: (num_styles, C) tables.

One network then holds N styles; a convex combination of the (gamma, beta) rows interpolates
between them (Sec. 5 of the paper). The style reaches the layers through :func:`set_style`, called by
the caller's code before ``forward``, so the layers stay plain ``nn.Module``s with the usual
one-tensor ``forward(x)``. For inference and export, :func:`bake_style` replaces every conditional
layer by a plain affine instance norm holding the chosen row (or mix), so the network is an ordinary
one-style network again (tiling statistics, ``torch.compile``, ONNX all see plain instance norm).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: A style choice: an index, one index per sample, or mix weights (one per style).
Style = int | Sequence[float] | torch.Tensor | None


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm with an ``(num_styles, C)`` table of gammas and betas (Dumoulin et al. 2017).

    The current style is ``self.style``: ``None`` (style 0), an int, a LongTensor of indices ``(N,)``,
    or float mix weights ``(num_styles,)`` / ``(N, num_styles)`` (non-negative, summing to 1; see
    :func:`style_weights`). Set it for every layer of a network at once with :func:`set_style`.
    """

    def __init__(self, num_features: int, num_styles: int, eps: float = 1e-5) -> None:
        super().__init__()
        if num_styles < 1:
            raise ValueError(f"ConditionalInstanceNorm2d needs num_styles >= 1, got {num_styles}.")
        self.num_features = num_features
        self.num_styles = num_styles
        self.eps = eps
        # Identity start (gamma 1, beta 0) for every style, as instance norm's affine init.
        self.weight = nn.Parameter(torch.ones(num_styles, num_features))
        self.bias = nn.Parameter(torch.zeros(num_styles, num_features))
        self.style: Style = None
        self.affine = True  # the per-style table is its affine transform (code that reads .affine)
        self.track_running_stats = False

    def style_parameters(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(gamma, beta)``, each ``(batch, C)``, for the current style."""
        weights = style_weights(self.style, self.num_styles, batch, self.weight.device)
        if weights.dtype == torch.long:  # indices: the rows themselves
            return self.weight[weights], self.bias[weights]
        # Elementwise products summed over styles, not a matmul: a one-hot mix then gives the row
        # bit for bit (1 * g + 0 * h = g exactly), which TF32 or blocked matmuls would not promise.
        weights = weights.to(self.weight.dtype)[:, :, None]
        return (weights * self.weight).sum(dim=1), (weights * self.bias).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.style_parameters(x.shape[0])
        normalized = F.instance_norm(x, eps=self.eps)
        return normalized * gamma[:, :, None, None].to(x.dtype) + beta[:, :, None, None].to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_styles={self.num_styles}, eps={self.eps}"


def style_weights(style: Style, num_styles: int, batch: int, device: torch.device | None = None) -> torch.Tensor:
    """A style choice as ``(batch,)`` long indices or ``(batch, num_styles)`` float mix weights.

    Integer styles (a scalar or one index per sample) stay indices; float weights must have one entry
    per style, be non-negative and sum to 1 per row. They are refused otherwise rather than silently
    renormalised, so a mix means what it says.
    """
    if style is None:
        style = 0
    style = torch.as_tensor(style, device=device)
    if not style.is_floating_point():
        if style.dim() == 0:
            style = style.expand(batch)
        if style.shape != (batch,):
            raise ValueError(f"Style indices must be one int or one per sample ({batch}), got {tuple(style.shape)}.")
        if int(style.min()) < 0 or int(style.max()) >= num_styles:
            raise ValueError(
                f"Style index out of range: got {sorted(set(style.tolist()))}, this network has {num_styles} "
                f"style(s): use --style 0..{num_styles - 1}."
            )
        return style.long()
    if style.dim() == 1:
        style = style.unsqueeze(0)
    if style.dim() != 2 or style.shape[1] != num_styles or style.shape[0] not in (1, batch):
        raise ValueError(
            f"Style mix weights need {num_styles} entries (one per style of this network, in the order of "
            f"data.style_images), got shape {tuple(style.shape)}: e.g. --style-mix {_example_mix(num_styles)}."
        )
    if bool((style < 0).any()):
        raise ValueError(f"Style mix weights must be non-negative, got {style.tolist()}.")
    sums = style.double().sum(dim=1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4, rtol=0):
        raise ValueError(
            f"Style mix weights must sum to 1 (a convex combination), got {style.tolist()} summing to "
            f"{[round(s, 4) for s in sums.tolist()]}. Divide them by their sum, e.g. --style-mix 0.3,0.7."
        )
    return style.expand(batch, -1)


def _example_mix(count: int) -> str:
    return ",".join(["0.5", "0.5"] + ["0"] * (count - 2)) if count > 1 else "1"


def conditional_layers(module: nn.Module) -> list[ConditionalInstanceNorm2d]:
    """Every conditional instance norm layer in ``module``."""
    return [m for m in module.modules() if isinstance(m, ConditionalInstanceNorm2d)]


def num_styles(module: nn.Module) -> int:
    """How many styles ``module`` holds: its conditional layers' table rows, 0 when it has none."""
    counts = {layer.num_styles for layer in conditional_layers(module)}
    if len(counts) > 1:
        raise ValueError(f"The conditional layers disagree on the number of styles: {sorted(counts)}.")
    return counts.pop() if counts else 0


_NO_STYLES = (
    "has no conditional instance norm layers, so it has no styles to choose: drop --style/--style-mix "
    "(style=), or use a checkpoint trained with norm=conditional_instance and data.style_images=[...]."
)


def set_style(module: nn.Module, style: Style) -> None:
    """Set the style (see :func:`style_weights`) on every conditional layer of ``module``.

    Raises if ``module`` has none, naming the fix: only ``norm=conditional_instance`` networks have styles.
    """
    layers = conditional_layers(module)
    if not layers:
        raise ValueError(f"This network {_NO_STYLES}")
    for layer in layers:
        layer.style = style


@torch.no_grad()
def bake_style(module: nn.Module, style: Style) -> nn.Module:
    """Replace, in place, every conditional layer by an affine instance norm with the chosen style's
    (or mix's) gamma and beta; returns ``module``.

    ``style``: an int (that style's row, exactly) or ``num_styles`` mix weights (non-negative, summing to
    1; their convex combination of the rows). The result is a plain one-style network, for the
    stylize command and export.
    """
    from stylenorm.nn.norm import NormSpec  # the factory builds the plain layer (norm.py imports this module)

    layers = conditional_layers(module)
    if not layers:
        raise ValueError(f"This network {_NO_STYLES}")
    if style is None or (isinstance(style, torch.Tensor) and style.dim() > 1):
        raise ValueError("bake_style needs one style for the whole network: an int or a list of mix weights.")
    replacements = {}
    for layer in layers:
        layer.style = style
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
