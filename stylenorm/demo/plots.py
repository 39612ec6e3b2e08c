"""The 'Why they differ' plot: per-layer |mean| and std before and after each norm layer.

Drawn on matplotlib's ``Figure`` directly, as the report's figures are (no pyplot: no global backend,
safe from the server's worker threads).
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from stylenorm.demo.activations import LayerStatistics


def statistics_figure(labelled: Sequence[tuple[str, list[LayerStatistics]]]) -> Figure:
    """Two panels, layer number on x: the average per-channel |mean| and std of the activations,
    dashed before the norm layer and solid after it, one colour per checkpoint. The dotted lines at
    0 and 1 are what a normalised activation reads."""
    figure = Figure(figsize=(10, 4.8), layout="constrained")
    mean_axes, std_axes = figure.subplots(1, 2)
    colours = [f"C{i % 10}" for i in range(len(labelled))]
    for (label, layers), colour in zip(labelled, colours, strict=True):
        numbers = range(1, len(layers) + 1)
        for axes, before, after in (
            (mean_axes, [s.before_abs_mean for s in layers], [s.after_abs_mean for s in layers]),
            (std_axes, [s.before_std for s in layers], [s.after_std for s in layers]),
        ):
            axes.plot(numbers, before, linestyle="--", marker="o", markersize=3, color=colour, alpha=0.6)
            axes.plot(numbers, after, linestyle="-", marker="o", markersize=4, color=colour, label=label)
    mean_axes.axhline(0, color="black", linestyle=":", linewidth=1)
    std_axes.axhline(1, color="black", linestyle=":", linewidth=1)
    mean_axes.set_title("per-channel |mean| (dashed: before the norm, solid: after)", fontsize=10)
    std_axes.set_title("per-channel std (dashed: before the norm, solid: after)", fontsize=10)
    for axes in (mean_axes, std_axes):
        axes.set_xlabel("norm layer (in the order the network runs them)")
        if max((max(line.get_ydata(), default=0) for line in axes.get_lines()), default=0) > 10:
            axes.set_yscale("symlog", linthresh=1.0)  # inputs of 0-255 networks: 100x the normalised values
        axes.set_ylim(bottom=0)  # both statistics are non-negative
        axes.grid(alpha=0.3)
    if labelled:  # one entry per checkpoint (the solid lines), under both panels
        handles, labels = std_axes.get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", fontsize=9, ncols=1)
    return figure
