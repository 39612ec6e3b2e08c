"""Why the variants differ: activation statistics before and after every norm layer, on the user's image.

The chosen network runs once, untiled, on the image downscaled to at most :data:`STATISTICS_SIZE` px, with
forward hooks on its norm layers (:func:`stylenorm.nn.norm.is_norm_layer`, as the training callback finds
them, plus AdaIN's content normalisation). The statistics are the training callback's
(:func:`stylenorm.callbacks.norm_statistics.activation_statistics`): per channel over (H, W), the average
|mean| and std before and after each layer. What each norm kind reads there: docs/modules.md; the tab:
docs/demo.md, "Why they differ".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from stylenorm.callbacks.norm_statistics import activation_statistics
from stylenorm.inference import PreparedImage, Stylizer
from stylenorm.nn.norm import is_norm_layer

#: Longest side of the image the statistics are measured on.
STATISTICS_SIZE = 512


@dataclasses.dataclass
class LayerStatistics:
    """One norm layer's input and output, per channel over (H, W), averaged over the channels."""

    layer: str  # module path inside the network, e.g. "encoder.0.norm"
    kind: str  # the layer's class, e.g. "InstanceNorm2d"
    before_abs_mean: float
    before_std: float
    after_abs_mean: float
    after_std: float


def downscaled(pixels: torch.Tensor, longest: int = STATISTICS_SIZE) -> torch.Tensor:
    """``(3, H, W)`` uint8 -> ``(1, 3, h, w)`` float 0-255 with the longest side at most ``longest``."""
    image = pixels[None].float()
    height, width = image.shape[-2:]
    factor = longest / max(height, width)
    if factor >= 1:
        return image
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)


def _normalizes(module: torch.nn.Module) -> bool:
    """A norm layer of the factory, or a layer declaring per-sample statistics of its own (AdaIN's content
    normalisation, which is the normalization an AdaIN network has; its decoder usually has none)."""
    return is_norm_layer(module) or hasattr(module, "statistics_groups")


def norm_layer_statistics(
    image: PreparedImage, model: Stylizer, *, longest: int = STATISTICS_SIZE
) -> list[LayerStatistics]:
    """Statistics around every norm layer of ``model`` on ``image``, in the order the layers run.

    A layer called more than once in a pass is recorded at its first call. An empty list means the
    network has no norm layers (``norm=none``).
    """
    names = {module: name for name, module in model.network.named_modules() if _normalizes(module)}
    records: dict[torch.nn.Module, LayerStatistics] = {}

    def hook(module, args, output):
        if module in records or not isinstance(output, torch.Tensor) or output.dim() != 4:
            return
        before, after = activation_statistics(args[0]), activation_statistics(output)
        records[module] = LayerStatistics(
            names[module],
            type(module).__name__,
            before["instance_abs_mean"],
            before["instance_std"],
            after["instance_abs_mean"],
            after["instance_std"],
        )

    handles = [module.register_forward_hook(hook) for module in names]
    try:
        model(downscaled(image.pixels, longest), "fp32", eager=True)  # eager: hooks do not run in a compiled graph
    finally:
        for handle in handles:
            handle.remove()
    return list(records.values())  # dicts keep insertion order: the order the layers ran


def statistics_rows(labelled: Sequence[tuple[str, list[LayerStatistics]]]) -> list[list]:
    """Table rows ``[checkpoint, #, layer, kind, |mean| before, std before, |mean| after, std after]``."""
    rows = []
    for label, layers in labelled:
        for number, layer in enumerate(layers, start=1):
            rows.append([
                label, number, layer.layer, layer.kind,
                round(layer.before_abs_mean, 4), round(layer.before_std, 4),
                round(layer.after_abs_mean, 4), round(layer.after_std, 4),
            ])  # fmt: skip
    return rows


STATISTICS_COLUMNS = ["checkpoint", "#", "layer", "kind", "|mean| before", "std before", "|mean| after", "std after"]
