"""Tiled inference that keeps instance, group and layer norm consistent across tiles (``--tile-stats``).

Run tile by tile, a per-sample norm takes its mean and variance over the tile, not the image, and the tiles
disagree. Here every such layer gets one set of whole-image statistics, swapped in with forward hooks (no
network definition changes): ``exact`` (the untiled network's, accumulated over the tiles one norm layer at a
time), ``thumbnail`` (one pass over a downscaled copy; Chen et al. 2022, URST) or ``per-tile``. Modules marked
``depends_on_whole_image`` run once on the whole image (:func:`frozen_outputs`). The modes and their measured
error: docs/stylize.md, "Tiling"; the layers handled and AdaIN's statistics: docs/modules.md.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from stylenorm.nn.norm import per_sample_groups

TILE_STATISTICS = ("exact", "thumbnail", "per-tile")

#: layer -> (mean, var) of its input, each ``(samples, groups)``.
Statistics = dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]
#: The network on a window of pixels (float 0-255 ``(N, 3, h, w)``).
Run = Callable[[torch.Tensor], object]


def statistics_groups(module: nn.Module) -> int | None:
    """Statistics per sample a layer normalises with, if they come from the sample itself: the norm
    factory's layers (:func:`~stylenorm.nn.norm.per_sample_groups`), or a layer that declares
    ``statistics_groups`` (AdaIN's content normalisation); ``None`` for every other layer."""
    groups = per_sample_groups(module)
    return groups if groups is not None else getattr(module, "statistics_groups", None)


def per_sample_norm_layers(network: nn.Module) -> list[nn.Module]:
    """Layers whose statistics come from each sample (and so from each tile)."""
    return [m for m in network.modules() if statistics_groups(m) is not None]


def has_per_sample_norms(network: nn.Module) -> bool:
    return bool(per_sample_norm_layers(network))


def _correction(module: nn.Module) -> int:
    """0: the layer normalises with the biased (population) variance, as torch's norms; 1: unbiased."""
    return int(getattr(module, "variance_correction", 0))


def _grouped(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, G, C/G * H * W)`` in float64, the values one statistic is taken over."""
    return x.double().reshape(x.shape[0], statistics_groups(module), -1)


def _normalize(module: nn.Module, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """``module``'s normalization of ``x`` with given per-(sample, group) statistics, then its affine."""
    n, c, h, w = x.shape
    groups = statistics_groups(module)
    scale = torch.rsqrt(var + module.eps).to(torch.float32)
    grouped = x.float().reshape(n, groups, -1)
    y = ((grouped - mean.to(torch.float32)[..., None]) * scale[..., None]).reshape(n, c, h, w)
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if weight is not None:
        y = y * weight.float()[None, :, None, None] + bias.float()[None, :, None, None]
    return y.to(x.dtype)


@contextlib.contextmanager
def _hooks(modules: list[nn.Module], hook: Callable) -> Iterator[None]:
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def frozen_statistics(statistics: Statistics) -> Iterator[None]:
    """Inside: each layer in ``statistics`` normalizes with its given ``(mean, var)`` (shaped ``(1, G)``,
    broadcast over the batch) instead of its input's."""

    def hook(module, args, output):
        mean, var = statistics[module]
        return _normalize(module, args[0], mean.to(args[0].device), var.to(args[0].device))

    with _hooks(list(statistics), hook):
        yield


def execution_order(network: nn.Module, layers: list[nn.Module], run: Run, size: int):
    """``layers`` in the order a forward pass calls them (registration order need not be that)."""
    order: list[nn.Module] = []

    def hook(module, args, output):
        if module not in order:
            order.append(module)

    with _hooks(layers, hook), torch.inference_mode():
        run(torch.full((1, 3, size, size), 127.5, device=next(network.parameters()).device))
    return order


def thumbnail_statistics(
    run: Run, layers: list[nn.Module], pixels: torch.Tensor, longest: int, multiple: int
) -> Statistics:
    """Per-layer statistics of one pass over ``pixels`` (``(1, 3, H, W)``) downscaled to ``longest`` px."""
    height, width = pixels.shape[-2:]
    factor = min(1.0, longest / max(height, width))
    size = [max(multiple, round(side * factor / multiple) * multiple) for side in (height, width)]
    thumbnail = F.interpolate(pixels.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    statistics: Statistics = {}

    def hook(module, args, output):
        values = _grouped(module, args[0])
        statistics[module] = (values.mean(-1), values.var(-1, correction=_correction(module)))

    with _hooks(layers, hook):
        run(thumbnail)
    return statistics


class _Measured(Exception):
    """Stops a forward pass once the layer being measured has seen its input."""


def owned_ranges(starts: list[int], size: int, length: int, multiple: int) -> list[tuple[int, int]]:
    """Per tile along one axis, the ``[begin, end)`` of the image it owns: cuts at the middle of each
    overlap (on the ``multiple`` grid, so they map to whole pixels at every downsampled layer)."""
    cuts = [0]
    for first, second in itertools.pairwise(starts):
        cuts.append((second + first + size) // 2 // multiple * multiple)
    cuts.append(length)
    return list(itertools.pairwise(cuts))


def exact_statistics(
    run: Run,
    order: list[nn.Module],
    padded: torch.Tensor,
    rows: tuple[int, list[int]],
    columns: tuple[int, list[int]],
    multiple: int,
) -> Statistics:
    """The untiled network's per-layer statistics of ``padded`` (``(1, 3, H, W)``), from tiles only."""
    (tile_height, row_starts), (tile_width, column_starts) = rows, columns
    height, width = padded.shape[-2:]
    row_owned = owned_ranges(row_starts, tile_height, height, multiple)
    column_owned = owned_ranges(column_starts, tile_width, width, multiple)
    statistics: Statistics = {}
    for layer in order:
        total = squares = None
        count = 0
        for top, (row_begin, row_end) in zip(row_starts, row_owned, strict=True):
            for left, (column_begin, column_end) in zip(column_starts, column_owned, strict=True):
                seen: list[torch.Tensor] = []

                def measure(module, args, output, seen=seen):
                    seen.append(args[0])
                    raise _Measured

                window = padded[..., top : top + tile_height, left : left + tile_width]
                with frozen_statistics(statistics), _hooks([layer], measure), contextlib.suppress(_Measured):
                    run(window)
                x = seen[0]
                scale_y, scale_x = x.shape[-2] / tile_height, x.shape[-1] / tile_width
                owned = x[
                    ...,
                    round((row_begin - top) * scale_y) : round((row_end - top) * scale_y),
                    round((column_begin - left) * scale_x) : round((column_end - left) * scale_x),
                ]
                values = _grouped(layer, owned)
                part, part_squares = values.sum(-1), (values * values).sum(-1)
                total = part if total is None else total + part
                squares = part_squares if squares is None else squares + part_squares
                count += values.shape[-1]
        mean = total / count
        statistics[layer] = (mean, ((squares - count * mean * mean) / (count - _correction(layer))).clamp_min(0))
    return statistics


def whole_image_modules(network: nn.Module) -> list[nn.Module]:
    """Modules whose output depends on the whole input image, not on the part a tile shows."""
    return [m for m in network.modules() if getattr(m, "depends_on_whole_image", False)]


def needs_whole_image(network: nn.Module) -> bool:
    """Whether tiles of this network need something of the whole image (per-sample norms' statistics,
    or the outputs of :func:`whole_image_modules`)."""
    return has_per_sample_norms(network) or bool(whole_image_modules(network))


def network_calls(mode: str, network: nn.Module, tiles: int) -> int:
    """How many times :func:`whole_image_context` and then ``run_tiled`` call the network for one
    image cut into ``tiles`` tiles (the count a progress bar runs to): ``exact`` costs one partial
    pass over the tiles per norm layer, plus the tiles themselves."""
    if mode == "per-tile" or not needs_whole_image(network):
        return tiles
    calls = tiles + (1 if whole_image_modules(network) else 0)
    layers = per_sample_norm_layers(network)
    if layers:
        calls += 1 if mode == "thumbnail" else 1 + len(layers) * tiles  # execution order, then layer by layer
    return calls


def whole_image_outputs(run: Run, modules: list[nn.Module], padded: torch.Tensor) -> dict[nn.Module, object]:
    """The outputs of ``modules`` on the whole (padded) image; the pass stops once all have run."""
    outputs: dict[nn.Module, object] = {}

    def record(module, args, output):
        outputs[module] = output
        if len(outputs) == len(modules):
            raise _Measured

    with _hooks(modules, record), contextlib.suppress(_Measured):
        run(padded)
    return outputs


@contextlib.contextmanager
def frozen_outputs(outputs: dict[nn.Module, object]) -> Iterator[None]:
    """Inside: each module in ``outputs`` returns its stored output without running (its own work, e.g.
    encoding style images, is not repeated for every tile)."""
    for module, output in outputs.items():
        module.forward = lambda *args, _output=output, **kwargs: _output  # an instance attribute shadows the method
    try:
        yield
    finally:
        for module in outputs:
            del module.forward


@contextlib.contextmanager
def frozen_whole_image_outputs(
    run: Run, network: nn.Module, pixels: torch.Tensor, multiple: int = 4, min_size: int = 1
) -> Iterator[None]:
    """Inside: :func:`whole_image_modules` return their output on the whole of ``pixels`` (``(1, 3, H, W)``,
    padded as the tiles are), run once here, instead of their output on each tile."""
    from stylenorm.inference.padding import pad_to_multiple

    modules = whole_image_modules(network)
    padded = pad_to_multiple(pixels.float(), multiple, min_size)[0]
    with frozen_outputs(whole_image_outputs(run, modules, padded) if modules else {}):
        yield


@contextlib.contextmanager
def whole_image_context(
    mode: str, run: Run, network: nn.Module, pixels: torch.Tensor, **sizes: int
) -> Iterator[Statistics]:
    """Inside: tiles of ``pixels`` (``(1, 3, H, W)``, float 0-255) run with what they need of the whole
    image, as ``mode`` says: :func:`frozen_whole_image_outputs`, then :func:`whole_image_statistics`
    measured (with those outputs in place) and frozen; yields those statistics. Nothing for ``per-tile``.
    ``sizes``: the ``tile``, ``overlap``, ``multiple`` and ``min_size`` of ``run_tiled``."""
    with contextlib.ExitStack() as stack:
        if mode != "per-tile":
            stack.enter_context(frozen_whole_image_outputs(run, network, pixels, sizes["multiple"], sizes["min_size"]))
        statistics = whole_image_statistics(mode, run, network, pixels, **sizes)
        stack.enter_context(frozen_statistics(statistics))
        yield statistics


def whole_image_statistics(
    mode: str,
    run: Run,
    network: nn.Module,
    pixels: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    multiple: int = 4,
    min_size: int = 1,
) -> Statistics:
    """Statistics for :func:`frozen_statistics` while ``pixels`` (``(1, 3, H, W)``, float 0-255) are
    run in the tiles :func:`~stylenorm.inference.tiling.run_tiled` uses; empty for ``per-tile`` or a
    network without per-sample norms."""
    from stylenorm.inference.padding import pad_to_multiple
    from stylenorm.inference.tiling import check_tiling, tile_layout

    if mode not in TILE_STATISTICS:
        raise ValueError(f"Unknown tile statistics {mode!r}; expected one of {', '.join(TILE_STATISTICS)}.")
    layers = per_sample_norm_layers(network)
    if mode == "per-tile" or not layers:
        return {}
    tile, overlap = check_tiling(tile, overlap, multiple, min_size)
    padded, _ = pad_to_multiple(pixels, multiple, min_size)
    if mode == "thumbnail":
        return thumbnail_statistics(run, layers, padded, tile, multiple)
    order = execution_order(network, layers, run, max(8 * multiple, min_size))
    height, width = padded.shape[-2:]
    rows, columns = tile_layout(height, tile, overlap, multiple), tile_layout(width, tile, overlap, multiple)
    return exact_statistics(run, order, padded, rows, columns, multiple)
