"""Norm statistics shared across the tiles of an image (``--tile-stats``: ``exact``, the untiled network's from the
tiles; ``thumbnail``, from a downscaled copy, Chen et al. 2022, URST; or ``per-tile``) or pooled over the frames of a
clip (``--frame-stats``), through forward hooks. Modes: docs/modules.md, docs/stylize.md.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator

import torch
from torch import nn

from stylenorm.inference.tiling import Tiles, downscale
from stylenorm.nn.norm import per_sample_groups

TILE_STATISTICS = ("exact", "thumbnail", "per-tile")
DEFAULT_FRAME_STATISTICS = "per-frame"  # or window:N, or clip

#: layer -> (mean, var) of its input, each ``(samples, groups)``.
Statistics = dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]
#: The network on a window of pixels (float 0-255 ``(N, 3, h, w)``).
Run = Callable[[torch.Tensor], object]


class _Measured(Exception):
    """Stops a forward pass once what it was run for has been seen."""


def statistics_groups(module: nn.Module) -> int | None:
    """How many statistics per sample a layer takes from the sample itself (``None``: none), or declares."""
    groups = per_sample_groups(module)
    return getattr(module, "statistics_groups", None) if groups is None else groups


def per_sample_norm_layers(network: nn.Module) -> list[nn.Module]:
    """Layers whose statistics come from each sample (and so from each tile)."""
    return [m for m in network.modules() if statistics_groups(m) is not None]


def whole_image_modules(network: nn.Module) -> list[nn.Module]:
    """Modules whose output depends on the whole input image, not on the part a tile shows."""
    return [m for m in network.modules() if getattr(m, "depends_on_whole_image", False)]


def needs_whole_image(network: nn.Module) -> bool:
    return bool(per_sample_norm_layers(network) or whole_image_modules(network))


def _correction(module: nn.Module) -> int:
    """0: the biased (population) variance, as torch's norms use; 1: unbiased."""
    return int(getattr(module, "variance_correction", 0))


def _grouped(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, G, C/G * H * W)`` in float64, the values one statistic is taken over."""
    return x.double().reshape(x.shape[0], statistics_groups(module), -1)


def _normalize(module: nn.Module, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """``module``'s normalization of ``x`` with given per-(sample, group) statistics, then its affine."""
    n, c, h, w = x.shape
    scale = torch.rsqrt(var + module.eps).to(torch.float32)
    grouped = x.float().reshape(n, statistics_groups(module), -1)
    y = ((grouped - mean.to(torch.float32)[..., None]) * scale[..., None]).reshape(n, c, h, w)
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if weight is not None:
        y = y * weight.float()[None, :, None, None] + bias.float()[None, :, None, None]
    return y.to(x.dtype)


def forward_hooks(modules: list[nn.Module], hook: Callable) -> contextlib.ExitStack:
    """``hook`` on every module while the returned context is open."""
    stack = contextlib.ExitStack()
    for module in modules:
        stack.enter_context(module.register_forward_hook(hook))
    return stack


def frozen_statistics(statistics: Statistics) -> contextlib.ExitStack:
    """Inside: each layer in ``statistics`` normalizes with its given ``(mean, var)`` instead of its input's."""

    def hook(module, args, output):
        mean, var = statistics[module]
        return _normalize(module, args[0], mean.to(args[0].device), var.to(args[0].device))

    return forward_hooks(list(statistics), hook)


def _partial_pass(run: Run, modules: list[nn.Module], pixels: torch.Tensor, keep: Callable) -> dict[nn.Module, object]:
    """``keep(module, args, output)`` of each of ``modules`` in run order, from a pass stopped after the last."""
    kept = {}

    def hook(module, args, output):
        kept[module] = keep(module, args, output)
        if len(kept) == len(modules):
            raise _Measured

    with forward_hooks(modules, hook), contextlib.suppress(_Measured):
        run(pixels)
    return kept


def measure(run: Run, layers: list[nn.Module], pixels: torch.Tensor) -> Statistics:
    """Each sample's own statistics at ``layers``, in the order they run."""

    def statistics(module, args, output):
        values = _grouped(module, args[0])
        return values.mean(-1), values.var(-1, correction=_correction(module))

    return _partial_pass(run, layers, pixels, statistics)


def owned_ranges(starts: list[int], size: int, length: int, multiple: int) -> list[tuple[int, int]]:
    """Per tile along one axis, the ``[begin, end)`` it owns: cut mid-overlap, on the ``multiple`` grid."""
    cuts = [0, *((second + first + size) // 2 // multiple * multiple for first, second in itertools.pairwise(starts))]
    return list(itertools.pairwise([*cuts, length]))


def exact_statistics(run: Run, order: list[nn.Module], padded: torch.Tensor, tiles: Tiles) -> Statistics:
    """The untiled network's per-layer statistics of ``padded`` (``(1, 3, H, W)``), from tiles only."""
    tile_height, row_starts = tiles.layout(padded.shape[-2])
    tile_width, column_starts = tiles.layout(padded.shape[-1])
    row_owned = owned_ranges(row_starts, tile_height, padded.shape[-2], tiles.multiple)
    column_owned = owned_ranges(column_starts, tile_width, padded.shape[-1], tiles.multiple)
    statistics: Statistics = {}
    for layer in order:
        total = squares = count = 0
        for top, (row_begin, row_end) in zip(row_starts, row_owned, strict=True):
            for left, (column_begin, column_end) in zip(column_starts, column_owned, strict=True):
                window = padded[..., top : top + tile_height, left : left + tile_width]
                with frozen_statistics(statistics):
                    x = _partial_pass(run, [layer], window, lambda module, args, output: args[0])[layer]
                scale_y, scale_x = x.shape[-2] / tile_height, x.shape[-1] / tile_width
                owned = x[
                    ...,
                    round((row_begin - top) * scale_y) : round((row_end - top) * scale_y),
                    round((column_begin - left) * scale_x) : round((column_end - left) * scale_x),
                ]
                values = _grouped(layer, owned)
                total = total + values.sum(-1)
                squares = squares + (values * values).sum(-1)
                count += values.shape[-1]
        mean = total / count
        statistics[layer] = (mean, ((squares - count * mean * mean) / (count - _correction(layer))).clamp_min(0))
    return statistics


def network_calls(mode: str, network: nn.Module, tiles: int) -> int:
    """How often :func:`whole_image_context` and ``run_tiled`` call the network for an image of ``tiles`` tiles."""
    if mode == "per-tile" or not needs_whole_image(network):
        return tiles
    calls = tiles + (1 if whole_image_modules(network) else 0)
    layers = per_sample_norm_layers(network)
    if layers:
        calls += 1 if mode == "thumbnail" else 1 + len(layers) * tiles  # execution order, then layer by layer
    return calls


def whole_image_statistics(mode: str, run: Run, network: nn.Module, pixels: torch.Tensor, tiles: Tiles) -> Statistics:
    """Statistics for :func:`frozen_statistics` while ``pixels`` (``(1, 3, H, W)``, float 0-255) run in ``tiles``;
    empty for ``per-tile`` or a network without per-sample norms."""
    layers = per_sample_norm_layers(network)
    if mode == "per-tile" or not layers:
        return {}
    padded = tiles.pad(pixels)
    if mode == "thumbnail":
        return measure(run, layers, downscale(padded, tiles.tile, tiles.multiple))
    side = max(8 * tiles.multiple, tiles.min_size)  # a small pass tells the order in which the layers run
    order = list(measure(run, layers, torch.full((1, 3, side, side), 127.5, device=next(network.parameters()).device)))
    return exact_statistics(run, order, padded, tiles)


@contextlib.contextmanager
def whole_image_context(
    mode: str, run: Run, network: nn.Module, pixels: torch.Tensor, tiles: Tiles, given: Statistics | None = None
) -> Iterator[Statistics]:
    """Inside: ``tiles`` of ``pixels`` (``(1, 3, H, W)``) run with the whole image's statistics (``given``, else
    measured as ``mode`` says) and its :func:`whole_image_modules` outputs, computed once here."""
    modules = whole_image_modules(network) if mode != "per-tile" or given is not None else []
    outputs = (
        _partial_pass(run, modules, tiles.pad(pixels.float()), lambda module, args, output: output) if modules else {}
    )
    for module, output in outputs.items():
        module.forward = lambda *args, _output=output, **kwargs: _output  # an instance attribute shadows the method
    try:
        statistics = whole_image_statistics(mode, run, network, pixels, tiles) if given is None else given
        with frozen_statistics(statistics):
            yield statistics
    finally:
        for module in outputs:
            del module.forward


def parse_frame_statistics(text: str) -> int | None:
    """``per-frame`` -> 1, ``window:N`` -> N, ``clip`` -> ``None`` (every frame); a readable error otherwise."""
    if text in ("per-frame", "clip"):
        return 1 if text == "per-frame" else None
    if text.startswith("window:"):
        with contextlib.suppress(ValueError):
            if (size := int(text.removeprefix("window:"))) >= 1:
                return size
    raise ValueError(f"Unknown frame statistics {text!r}; expected per-frame, clip or window:N, N >= 1 (window:9).")


def window_indices(frame: int, total: int, size: int | None) -> slice:
    """The frames whose statistics frame ``frame`` of ``total`` uses: ``size`` centred on it, shifted inside."""
    if size is None or size >= total:
        return slice(0, total)
    start = min(max(frame - size // 2, 0), total - size)
    return slice(start, start + size)


def concatenate(parts: list[Statistics]) -> Statistics:
    """Statistics of consecutive samples (or batches) as one record with a row per sample."""
    if not parts or not parts[0]:
        return {}
    return {layer: tuple(torch.cat([part[layer][i] for part in parts]) for i in range(2)) for layer in parts[0]}


def pooled(statistics: Statistics, frames: slice) -> Statistics:
    """The statistics of ``frames`` taken together, shaped ``(1, groups)``."""
    result = {}
    for layer, (mean, var) in statistics.items():
        mean, var = mean[frames], var[frames]
        pooled_mean = mean.mean(0, keepdim=True)
        pooled_var = ((var + mean * mean).mean(0, keepdim=True) - pooled_mean * pooled_mean).clamp_min(0)
        result[layer] = (pooled_mean, pooled_var)
    return result
