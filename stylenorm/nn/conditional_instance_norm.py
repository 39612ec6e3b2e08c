"""Conditional instance norm (Dumoulin, Shlens & Kudlur 2017, eq. 5): per-style scale and shift tables, mixed by
convex weights (Sec. 5); the style reaches the layers through :func:`set_style`. docs/modules.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: A style choice: an index, one index per sample, or mix weights (one per style).
Style = int | Sequence[float] | torch.Tensor | None

#: How far from 1 a mix's sum may be (typed decimals such as 0.333,0.333,0.333); beyond it, refused.
MIX_SUM_TOLERANCE = 1e-3


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm with ``(num_styles, C)`` gammas and betas; the style is ``self.style`` (:func:`set_style`)."""

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
        # Products summed over styles, not a matmul: a one-hot mix gives the row bit for bit (TF32 would not).
        weights = weights.to(self.weight.dtype)[:, :, None]
        return (weights * self.weight).sum(dim=1), (weights * self.bias).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.style_parameters(x.shape[0])
        normalized = F.instance_norm(x, eps=self.eps)
        return normalized * gamma[:, :, None, None].to(x.dtype) + beta[:, :, None, None].to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_styles={self.num_styles}, eps={self.eps}"


def style_weights(style: Style, num_styles: int, batch: int, device: torch.device | None = None) -> torch.Tensor:
    """A style (``None`` = 0, an int, ``(N,)`` indices, or float mix weights ``(num_styles,)`` / ``(N, num_styles)``
    passing :func:`convex_weights`) as ``(batch,)`` long indices or ``(batch, num_styles)`` float weights."""
    style = torch.as_tensor(0 if style is None else style, device=device)
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
        example = ",".join(["0.5", "0.5"] + ["0"] * (num_styles - 2)) if num_styles > 1 else "1"
        raise ValueError(
            f"Style mix weights need {num_styles} entries (one per style), got shape {tuple(style.shape)}: e.g. "
            f"--style-mix {example}."
        )
    style = convex_weights(style, "--style-mix", "styles")
    return style.expand(batch, -1)


def convex_weights(weights: Sequence[float] | torch.Tensor, flag: str, what: str) -> torch.Tensor:
    """Mix weights (last dim: one per item mixed), finite, non-negative, rows summing to 1 within
    :data:`MIX_SUM_TOLERANCE` (else refused, naming ``flag``), normalised; float tensors keep their dtype."""
    dtype = weights.dtype if isinstance(weights, torch.Tensor) and weights.is_floating_point() else torch.float32
    exact = torch.as_tensor(weights, dtype=torch.float64)
    rows = exact.reshape(-1, exact.shape[-1]) if exact.dim() else exact.reshape(1, 1)
    for row in rows.tolist():
        shown = ",".join(f"{w:g}" for w in row)
        if any(not math.isfinite(w) or w < 0 for w in row):
            raise ValueError(f"{flag} {shown}: mix weights must be non-negative (a convex combination of the {what}).")
        total = sum(row)
        if abs(total - 1) > MIX_SUM_TOLERANCE:
            one_hot = ",".join(["1"] + ["0"] * (len(row) - 1))
            suggestion = ",".join(f"{w / total:.3g}" for w in row) if total > 0 else one_hot
            raise ValueError(f"{flag} {shown} sums to {total:g}; weights must sum to 1: {flag} {suggestion}?")
    return (exact / exact.sum(dim=-1, keepdim=True)).to(dtype=dtype, device=exact.device)


def conditional_layers(module: nn.Module) -> list[ConditionalInstanceNorm2d]:
    """Every conditional instance norm layer in ``module``."""
    return [m for m in module.modules() if isinstance(m, ConditionalInstanceNorm2d)]


def num_styles(module: nn.Module) -> int:
    """How many styles ``module`` holds: its conditional layers' table rows, 0 when it has none."""
    counts = {layer.num_styles for layer in conditional_layers(module)}
    if len(counts) > 1:
        raise ValueError(f"The conditional layers disagree on the number of styles: {sorted(counts)}.")
    return counts.pop() if counts else 0


def set_style(module: nn.Module, style: Style) -> None:
    """Set the style (see :func:`style_weights`) on every conditional layer of ``module``, which must have some."""
    layers = conditional_layers(module)
    if not layers:
        raise ValueError(
            "This network has no styles to choose: drop --style/--style-mix, or use a norm=conditional_instance one."
        )
    for layer in layers:
        layer.style = style
