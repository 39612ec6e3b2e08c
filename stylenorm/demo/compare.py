"""One image through several checkpoints: the page's side-by-side results and the difference map of two.

Each result is the stylize command's (the same :func:`~stylenorm.inference.stylize_batch` call) at the input's
size, saved as PNG; a checkpoint that fails gives a result with the reason and the others go on. The difference
map: per pixel the mean absolute difference in gray levels, ``magma`` up to its 99th percentile (outliers aside).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image

from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.models import NO_CONTROLS, Controls, ModelCache, settings_label
from stylenorm.inference import PreparedImage, save_image, stylize_batch
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import to_image

Progress = Callable[[float, str], None]  # progress(fraction, description)

PAGE_OPTIONS = InferenceOptions(precision="auto")  # as the stylize command's


def no_progress(fraction: float, description: str) -> None:
    pass


def each(entries: Sequence[CheckpointEntry], progress: Progress) -> Iterator[CheckpointEntry]:
    """The entries in order, reporting each to ``progress`` (:class:`DemoError` when there are none)."""
    if not entries:
        raise DemoError("No checkpoint selected: tick one or more in the list of checkpoints.")
    for index, entry in enumerate(entries):
        progress(index / len(entries), f"{entry.name} ({index + 1} of {len(entries)})")
        yield entry
    progress(1.0, "done")


@contextlib.contextmanager
def failure_noted(result) -> Iterator[None]:
    """A checkpoint that fails (will not load, runs out of memory) puts the reason in ``result.error``."""
    try:
        yield
    except DemoError as error:
        result.error = str(error)
    except (ValueError, RuntimeError, MemoryError) as error:  # OOM, a network that fails on this size
        result.error = f"{result.entry.name} failed on this image: {type(error).__name__}: {error}"


@dataclasses.dataclass
class Result:
    """One checkpoint's output and its PNG (``None`` with ``error`` when it failed), the seconds to stylize and
    to load (0 when cached), and the controls that applied."""

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


def file_name(index: int, entry: CheckpointEntry, settings: str = "") -> str:
    """``1_autoencoder_instance_affine-True_<settings>_<run>_last.png``: the caption as a file name, unique by index."""
    words = [entry.model, entry.norm_kind, f"affine-{entry.affine}"]
    if entry.num_styles > 1:
        words.append(f"{entry.num_styles}styles")
    words += [settings, entry.name.removesuffix(entry.path.suffix)]
    stem = re.sub(r"[^A-Za-z0-9.=-]+", "_", "_".join(word for word in words if word)).strip("_.")
    return f"{index}_{stem[-180:]}.png"


def compare(
    image: PreparedImage,
    entries: Sequence[CheckpointEntry],
    models: ModelCache,
    controls: Controls = NO_CONTROLS,
    *,
    options: InferenceOptions = PAGE_OPTIONS,
    output_dir: str | Path | None = None,
    progress: Progress = no_progress,
) -> list[Result]:
    """One :class:`Result` per checkpoint, in order; the PNGs go into ``output_dir`` (default: a new temporary one)."""
    folder = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="stylenorm-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for index, entry in enumerate(each(entries, progress), start=1):
        result = Result(entry, settings=settings_label(entry, controls))
        with failure_noted(result):
            started = time.perf_counter()
            model = models.get(entry, controls)
            result.load_seconds = time.perf_counter() - started
            started = time.perf_counter()
            result.image = to_image(stylize_batch(image.pixels[None], model, options)[0], image.alpha)
            result.seconds = time.perf_counter() - started
            result.path = save_image(result.image, folder / file_name(index, entry, result.settings))
        results.append(result)
    return results


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
