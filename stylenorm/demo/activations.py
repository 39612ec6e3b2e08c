"""Why the variants differ: the training callback's activation statistics before and after every norm layer, on
the user's image, plotted on a matplotlib ``Figure`` (no pyplot: safe from the server's threads). docs/modules.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from stylenorm.callbacks.norm_statistics import activation_statistics
from stylenorm.inference import PreparedImage, Stylizer
from stylenorm.inference.tile_statistics import forward_hooks
from stylenorm.inference.tiling import downscale
from stylenorm.nn.norm import is_norm_layer

STATISTICS_SIZE = 512  # longest side of the image the statistics are measured on


@dataclasses.dataclass
class LayerStatistics:
    """One norm layer's input and output statistics, per channel over (H, W), averaged over the channels."""

    layer: str  # module path inside the network, e.g. "encoder.0.norm"
    kind: str  # the layer's class, e.g. "InstanceNorm2d"
    before_abs_mean: float
    before_std: float
    after_abs_mean: float
    after_std: float


def norm_layer_statistics(
    image: PreparedImage, model: Stylizer, *, longest: int = STATISTICS_SIZE
) -> list[LayerStatistics]:
    """Statistics around every norm layer of ``model`` on ``image``, in the order they run (a layer called twice: its
    first call); empty for ``norm=none``. AdaIN's content normalisation counts (it has ``statistics_groups``)."""
    layers = model.network.named_modules()
    names = {module: name for name, module in layers if is_norm_layer(module) or hasattr(module, "statistics_groups")}
    records: dict[torch.nn.Module, LayerStatistics] = {}

    def hook(module, args, output):
        if module in records or not isinstance(output, torch.Tensor) or output.dim() != 4:
            return
        before, after = activation_statistics(args[0]), activation_statistics(output)
        numbers = [stats[key] for stats in (before, after) for key in ("instance_abs_mean", "instance_std")]
        records[module] = LayerStatistics(names[module], type(module).__name__, *numbers)

    with forward_hooks(list(names), hook):  # removed on the way out, also when the network fails
        model(downscale(image.pixels[None], longest), "fp32", eager=True)  # eager: hooks do not run in a compiled graph
    return list(records.values())  # dicts keep insertion order: the order the layers ran


def statistics_rows(labelled: Sequence[tuple[str, list[LayerStatistics]]]) -> list[list]:
    """Table rows, :data:`STATISTICS_COLUMNS`."""
    return [
        [label, number, layer.layer, layer.kind, *(round(value, 4) for value in dataclasses.astuple(layer)[2:])]
        for label, layers in labelled
        for number, layer in enumerate(layers, start=1)
    ]


STATISTICS_COLUMNS = ["checkpoint", "#", "layer", "kind", "|mean| before", "std before", "|mean| after", "std after"]


def statistics_figure(labelled: Sequence[tuple[str, list[LayerStatistics]]]) -> Figure:
    """Per-channel |mean| and std per layer, dashed before the norm, solid after; a colour per checkpoint."""
    figure = Figure(figsize=(10, 4.8), layout="constrained")
    mean_axes, std_axes = figure.subplots(1, 2)
    for index, (label, layers) in enumerate(labelled):
        colour = f"C{index % 10}"  # a colour per checkpoint
        numbers = range(1, len(layers) + 1)
        for axes, before, after in (
            (mean_axes, [s.before_abs_mean for s in layers], [s.after_abs_mean for s in layers]),
            (std_axes, [s.before_std for s in layers], [s.after_std for s in layers]),
        ):
            axes.plot(numbers, before, linestyle="--", marker="o", markersize=3, color=colour, alpha=0.6)
            axes.plot(numbers, after, linestyle="-", marker="o", markersize=4, color=colour, label=label)
    for axes, name, level in ((mean_axes, "|mean|", 0), (std_axes, "std", 1)):
        axes.axhline(level, color="black", linestyle=":", linewidth=1)
        axes.set_title(f"per-channel {name} (dashed: before the norm, solid: after)", fontsize=10)
        axes.set_xlabel("norm layer (in the order the network runs them)")
        if max((max(line.get_ydata(), default=0) for line in axes.get_lines()), default=0) > 10:
            axes.set_yscale("symlog", linthresh=1.0)  # inputs of 0-255 networks: 100x the normalised values
        axes.set_ylim(bottom=0)  # both statistics are non-negative
        axes.grid(alpha=0.3)
    if labelled:  # one entry per checkpoint (the solid lines), under both panels
        figure.legend(*std_axes.get_legend_handles_labels(), loc="outside lower center", fontsize=9, ncols=1)
    return figure
