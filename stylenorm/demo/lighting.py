"""Which variants change their output when the input's lighting changes (instance norm's invariance, live): the
input is relit, ``y = clip(mean + contrast * (x - mean) + brightness)`` on [0, 1], and each network stylizes both,
untiled and downscaled as the statistics are. Why this separates the norms: docs/modules.md; the tab: docs/demo.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from PIL import Image

from stylenorm.demo.activations import downscaled
from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.compare import Progress, Result, each, failure_noted, no_progress
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.models import NO_CONTROLS, Controls, ModelCache, settings_label
from stylenorm.inference import PreparedImage, stylize_batch
from stylenorm.inference.pipeline import to_image

NOTICEABLE_CLIPPING = 0.005  # above it the relit image is no longer a brightness/contrast change of the input


@dataclasses.dataclass
class LightingResult(Result):
    change: float = float("nan")  # mean |output(relit) - output(original)|, gray levels

    def caption(self) -> str:
        return f"{self.entry.caption(self.settings)} — changed {self.change:.1f} gray levels"


def relight(pixels: torch.Tensor, brightness: float = 0.0, contrast: float = 1.0) -> torch.Tensor:
    """uint8 ``(..., 3, H, W)`` -> uint8: contrast scaled about the image mean, then brightness added (on [0, 1])."""
    return _relit(pixels, brightness, contrast)[0]


def _relit(pixels: torch.Tensor, brightness: float, contrast: float) -> tuple[torch.Tensor, float]:
    """The relit uint8 image and the fraction of its values clipped to 0 or 255."""
    if not contrast > 0:
        raise DemoError(f"Contrast must be > 0 (1 = unchanged), got {contrast}.")
    x = pixels.float() / 255
    mean = x.mean(dim=(-3, -2, -1), keepdim=True)
    y = mean + contrast * (x - mean) + brightness
    # Only values pushed past the range count: a pixel already black or white in the input is not lost here.
    clipped = ((y < 0) & (x > 0)) | ((y > 1) & (x < 1))
    return (y.clamp(0, 1) * 255).round().to(torch.uint8), clipped.float().mean().item()


def invariance_note(clipped: float) -> str:
    """What limits instance norm's invariance under this relighting, for the page."""
    limits = "zero padding at the borders (it stays 0 while the image brightens) and rounding to 8 bits move IN outputs"
    if clipped < NOTICEABLE_CLIPPING:
        return (
            f"{100 * clipped:.1f}% of the relit input's values were clipped: IN removes this change up to what its "
            f"first layer sees; {limits} a little even then."
        )
    return (
        f"{100 * clipped:.1f}% of the relit input's values were clipped to black or white, so it is no longer a "
        f"brightness and contrast change of the original: IN cannot remove it and its output moves too; {limits} "
        f"a little even without clipping. Lower the sliders to see IN's invariance."
    )


def lighting_response(
    image: PreparedImage,
    entries: Sequence[CheckpointEntry],
    models: ModelCache,
    controls: Controls = NO_CONTROLS,
    *,
    brightness: float = 0.0,
    contrast: float = 1.0,
    precision: str = "fp32",
    progress: Progress = no_progress,
) -> tuple[Image.Image, list[LightingResult], float]:
    """The relit input (downscaled), each checkpoint's output on it with how far it moved, and the fraction of
    values clipped. fp32 by default: bf16 rounding alone would blur the small changes this is about."""
    original = downscaled(image.pixels).round().clamp(0, 255).to(torch.uint8)
    relit, clipped = _relit(original, brightness, contrast)
    pair = (original[0], relit[0])
    results = []
    for entry in each(entries, progress):
        result = LightingResult(entry, settings=settings_label(entry, controls))
        with failure_noted(result):
            model = models.get(entry, controls)
            # One image per call: batch norm built without running statistics normalises over the batch
            # even in eval mode, and must not see the other image.
            outputs = [stylize_batch(one[None], model, precision=precision, auto_tile_pixels=None)[0] for one in pair]
            result.change = (outputs[1].float() - outputs[0].float()).abs().mean().item()
            result.image = to_image(outputs[1])
        results.append(result)
    return to_image(relit[0]), results, clipped
