"""The pieces of the page's views: one result per checkpoint (one that fails gives the reason and the others go on),
the difference map of two, the relit input (instance norm's invariance, live) and the video tab's clips. The
difference map and relighting: docs/modules.md; the tabs: docs/demo.md.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image

from stylenorm.data.clips import Clip, translation_motion
from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.models import NO_CONTROLS, Controls, ModelCache
from stylenorm.inference import Stylizer
from stylenorm.inference.flicker import flicker, stylize_known_clip
from stylenorm.inference.pipeline import prepare
from stylenorm.inference.video_io import probe_video, read_video, save_video

Progress = Callable[[float, str], None]  # progress(fraction, description)


def no_progress(fraction: float, description: str) -> None:
    pass


@dataclasses.dataclass
class Result:
    """One checkpoint's output and PNG (``None``, with ``error``, when it failed), its timings and the controls used."""

    entry: CheckpointEntry
    image: Image.Image | None = None
    path: Path | None = None
    seconds: float = 0.0
    load_seconds: float = 0.0
    settings: str = ""
    error: str | None = None

    def caption(self) -> str:
        loading = f" + {self.load_seconds:.1f} s loading" if self.load_seconds >= 0.05 else ""
        return f"{self.entry.caption(self.settings)} — {self.seconds:.2f} s{loading}"


def each_network(
    entries: Sequence[CheckpointEntry],
    models: ModelCache,
    controls: Controls,
    progress: Progress,
    work: Callable[[int, Result, Stylizer], None],
    kind: type[Result] = Result,
) -> list[Result]:
    """``work(index, result, network)`` for each checkpoint in order (index from 1), each reported to ``progress``;
    one that fails (will not load, runs out of memory) gets the reason in ``result.error`` and the others go on."""
    if not entries:
        raise DemoError("No checkpoint selected: tick one or more in the list of checkpoints.")
    results = []
    for index, entry in enumerate(entries, start=1):
        progress((index - 1) / len(entries), f"{entry.name} ({index} of {len(entries)})")
        result = kind(entry)
        try:
            started = time.perf_counter()
            model = models.get(entry, controls)
            result.load_seconds = time.perf_counter() - started
            result.settings = ", ".join(filter(None, [controls.direction if entry.directions else "", model.settings]))
            work(index, result, model)
        except DemoError as error:
            result.error = str(error)
        except (ValueError, RuntimeError, MemoryError) as error:  # OOM, a network that fails on this size
            result.error = f"{entry.name} failed on this image: {type(error).__name__}: {error}"
        results.append(result)
    progress(1.0, "done")
    return results


def file_name(index: int, entry: CheckpointEntry, settings: str = "") -> str:
    """``1_autoencoder_instance_affine-True_<settings>_<run>_last.png``: the caption as a file name, unique by index."""
    words = [entry.model, entry.norm_kind, f"affine-{entry.affine}"]
    if entry.num_styles > 1:
        words.append(f"{entry.num_styles}styles")
    words += [settings, entry.name.removesuffix(entry.path.suffix)]
    stem = re.sub(r"[^A-Za-z0-9.=-]+", "_", "_".join(word for word in words if word)).strip("_.")
    return f"{index}_{stem[-180:]}.png"


@dataclasses.dataclass
class Difference:
    """The map, and the mean, largest and full-colour (``scale``) differences, in gray levels."""

    image: Image.Image
    mean: float
    largest: float
    scale: float

    def caption(self, first: str, second: str) -> str:
        return (
            f"|{first} - {second}|: mean {self.mean:.2f}, largest {self.largest:.0f} gray levels; "
            f"black = 0, pale yellow = {self.scale:.0f} or more"
        )


def difference_map(first: Image.Image, second: Image.Image) -> Difference:
    """The difference map of two images of one size (:class:`DemoError` when the sizes differ)."""
    if first.size != second.size:
        raise DemoError(
            f"The two images differ in size ({first.width}x{first.height} and {second.width}x{second.height} px): "
            f"pick two results of the same comparison."
        )
    a = np.asarray(first.convert("RGB"), dtype=np.float32)
    b = np.asarray(second.convert("RGB"), dtype=np.float32)
    per_pixel = np.abs(a - b).mean(axis=2)
    scale = max(1.0, float(np.percentile(per_pixel, 99)))
    colours = colormaps["magma"](np.clip(per_pixel / scale, 0, 1))[..., :3]
    image = Image.fromarray((colours * 255).round().astype(np.uint8))
    return Difference(image, float(np.abs(a - b).mean()), float(per_pixel.max()), scale)


NOTICEABLE_CLIPPING = 0.005  # above it the relit image is no longer a brightness/contrast change of the input


@dataclasses.dataclass
class LightingResult(Result):
    change: float = float("nan")  # mean |output(relit) - output(original)|, gray levels

    def caption(self) -> str:
        return f"{self.entry.caption(self.settings)} — changed {self.change:.1f} gray levels"


def relight(pixels: torch.Tensor, brightness: float = 0.0, contrast: float = 1.0) -> tuple[torch.Tensor, float]:
    """uint8 ``(..., 3, H, W)`` -> uint8, contrast scaled about the image mean, then brightness added (on [0, 1]);
    and the fraction of its values clipped to 0 or 255."""
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


# The video tab: motion-free flicker numbers (they include the clip's own motion; known motion: docs/video.md).
MAX_FRAMES = 48
MAX_SIDE = 256
COLUMNS = ["variant", "frame change (gray levels)", "mean colour change (gray levels)", "time (s)"]


def read_clip(path: str | os.PathLike, max_frames: int = MAX_FRAMES, max_side: int = MAX_SIDE) -> tuple[Clip, float]:
    """The first ``max_frames`` frames of ``path`` at most ``max_side`` px, even sides; and the frame rate."""
    try:
        rate = float(probe_video(path).rate)
        frames = [
            prepare(Image.fromarray(f.pixels), max_size=max_side).pixels for f in islice(read_video(path), max_frames)
        ]
    except (ValueError, OSError) as error:
        raise DemoError(f"Not a video this page can read: {error}") from None
    if len(frames) < 2:
        raise DemoError("The clip needs at least two frames.")
    height, width = frames[0].shape[-2:]
    stack = torch.stack(frames)[..., : height - height % 2, : width - width % 2].contiguous()
    motion = translation_motion([(0, 0)] * (len(frames) - 1), *stack.shape[-2:])
    return Clip(Path(path).name, stack, *motion, fps=round(rate)), rate


def flicker_row(name: str, outputs: torch.Tensor, clip: Clip, seconds: float) -> list:
    score = flicker(outputs, clip)
    return [name, round(score.warp_error, 2), round(score.global_flicker, 2), round(seconds, 2)]


def compare_clip(
    path: str | os.PathLike,
    variants: list[tuple[CheckpointEntry, str]],
    models: ModelCache,
    controls: Controls = NO_CONTROLS,
    *,
    output_dir: str | os.PathLike,
    precision: str = "auto",
) -> tuple[list[Path], list[list]]:
    """Each ``(checkpoint, frame_stats)`` variant on the clip: the videos written and the table (the input first)."""
    if not variants:
        raise DemoError("No checkpoint selected: tick one or two in the list of checkpoints.")
    clip, rate = read_clip(path)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    videos, rows = [], [flicker_row(f"input ({len(clip.frames)} frames)", clip.frames, clip, 0.0)]
    for index, (entry, frame_stats) in enumerate(variants, start=1):
        model = models.get(entry, controls)
        started = time.perf_counter()
        outputs = stylize_known_clip(model, clip, frame_stats=frame_stats, precision=precision)
        seconds = time.perf_counter() - started
        videos.append(save_video(outputs, folder / f"{index}_{entry.path.stem}.mp4", round(rate) or 12))
        rows.append(flicker_row(f"{entry.name} · {entry.norm_label} · {frame_stats}", outputs, clip, seconds))
    return videos, rows
