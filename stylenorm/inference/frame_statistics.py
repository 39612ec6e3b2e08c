"""Instance/group/layer-norm statistics shared across the frames of a clip: the temporal ``--tile-stats``.

Per-frame statistics shift the colours of the whole frame when a pan, a fade or an entering object changes
what it holds: flicker (Ruder et al. 2016, Lai et al. 2018). Here every frame can normalise with statistics
pooled over frames instead: ``per-frame`` (the default), ``window:N`` (the N frames centred on it) or ``clip``.
One recording pass stores each frame's per-layer mean and variance; a second runs each frame with the pooled
ones frozen in by the forward hooks of :mod:`stylenorm.inference.tile_statistics`. The modes, the pooling and
what it costs: docs/video.md, "Statistics shared across frames".
"""

from __future__ import annotations

import contextlib

import torch

from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.tile_statistics import (
    Statistics,
    _correction,
    _grouped,
    _hooks,
    _Measured,
    frozen_statistics,
    frozen_whole_image_outputs,
    per_sample_norm_layers,
    whole_image_context,
)

#: ``--frame-stats`` values (``window:N`` with any N >= 1).
FRAME_STATISTICS = ("per-frame", "window:N", "clip")
DEFAULT_FRAME_STATISTICS = "per-frame"


def parse_frame_statistics(text: str) -> int | None:
    """``per-frame`` -> 1, ``window:N`` -> N, ``clip`` -> ``None`` (every frame); a readable error otherwise."""
    if text == "per-frame":
        return 1
    if text == "clip":
        return None
    if text.startswith("window:"):
        try:
            size = int(text.removeprefix("window:"))
        except ValueError:
            size = 0
        if size >= 1:
            return size
    raise ValueError(
        f"Unknown frame statistics {text!r}; expected per-frame, clip or window:N with N >= 1 (e.g. window:9)."
    )


def window_indices(frame: int, total: int, size: int | None) -> slice:
    """The frames whose statistics frame ``frame`` of ``total`` uses: ``size`` centred on it, shifted inside."""
    if size is None or size >= total:
        return slice(0, total)
    start = min(max(frame - size // 2, 0), total - size)
    return slice(start, start + size)


def record_statistics(
    model: Stylizer, pixels: torch.Tensor, precision: str, sizes: dict | None = None, tile_stats: str = "exact"
) -> Statistics:
    """Each frame's own statistics (float64 on the CPU, a row per frame) at every per-sample norm layer of
    ``model`` (``pixels``: float 0-255 ``(N, 3, H, W)``); ``sizes`` (``run_tiled``'s tiling): whole-frame
    statistics of tiled frames as ``tile_stats`` computes them."""
    layers = per_sample_norm_layers(model.network)
    if not layers:
        return {}
    run = lambda window: model(window, precision, eager=True)  # noqa: E731 - hooks need the eager module
    if sizes is not None:
        if tile_stats == "per-tile":
            raise ValueError(
                "--frame-stats shares whole-frame statistics, which --tile-stats per-tile does not compute; "
                "use --tile-stats exact or thumbnail."
            )
        frames = []
        for image in pixels:
            with whole_image_context(tile_stats, run, model.network, image[None].float(), **sizes) as statistics:
                frames.append(statistics)
        return {layer: tuple(torch.cat([f[layer][i].cpu() for f in frames]) for i in range(2)) for layer in layers}
    recorded: Statistics = {}

    def record(module, args, output):
        values = _grouped(module, args[0])
        recorded[module] = (values.mean(-1).cpu(), values.var(-1, correction=_correction(module)).cpu())
        if len(recorded) == len(layers):
            raise _Measured  # nothing after the last norm layer is needed

    with _hooks(layers, record), contextlib.suppress(_Measured):
        run(pixels)
    return recorded


def concatenate(parts: list[Statistics]) -> Statistics:
    """Statistics of consecutive batches as one record of all their frames."""
    if not parts or not parts[0]:
        return {}
    return {layer: tuple(torch.cat([part[layer][i] for part in parts]) for i in range(2)) for layer in parts[0]}


def pooled(statistics: Statistics, frames: slice) -> Statistics:
    """The statistics of ``frames`` taken together, shaped ``(1, groups)`` for :func:`frozen_statistics`."""
    result = {}
    for layer, (mean, var) in statistics.items():
        mean, var = mean[frames], var[frames]
        pooled_mean = mean.mean(0, keepdim=True)
        pooled_var = ((var + mean * mean).mean(0, keepdim=True) - pooled_mean * pooled_mean).clamp_min(0)
        result[layer] = (pooled_mean, pooled_var)
    return result


def stack(per_frame: list[Statistics]) -> Statistics:
    """One pooled record per frame of a batch -> ``(batch, groups)`` tensors (a statistic per sample)."""
    if not per_frame or not per_frame[0]:
        return {}
    return {layer: tuple(torch.cat([s[layer][i] for s in per_frame]) for i in range(2)) for layer in per_frame[0]}


def run_with_statistics(
    model: Stylizer, pixels: torch.Tensor, statistics: Statistics, precision: str, sizes: dict | None = None
) -> torch.Tensor:
    """Float 0-255 ``(N, 3, H, W)`` -> float 0-255 on the CPU, each frame normalised with its row of
    ``statistics`` (``(N, groups)`` per layer); ``sizes`` (``run_tiled``'s tiling): tiled, every tile with
    its frame's statistics."""
    from stylenorm.inference.tiling import run_tiled

    run = lambda window: model(window, precision, eager=True)  # noqa: E731
    if sizes is None:
        with frozen_statistics(statistics):
            return run(pixels).cpu()
    outputs = []
    for index, image in enumerate(pixels):
        frame = {layer: (mean[index : index + 1], var[index : index + 1]) for layer, (mean, var) in statistics.items()}
        whole_frame = frozen_whole_image_outputs(run, model.network, image[None], sizes["multiple"], sizes["min_size"])
        with whole_frame, frozen_statistics(frame):
            outputs.append(run_tiled(run, image[None].float(), **sizes).cpu())
    return torch.cat(outputs)
