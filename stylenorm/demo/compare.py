"""One image through several checkpoints: the side-by-side results of the page.

Each result is what the stylize command writes for that checkpoint - the same
:func:`~stylenorm.inference.stylize_batch` call, so images above the automatic tiling threshold
(or with ``tile``) are tiled with whole-image norm statistics (``tile_stats``, exact by default) -
at the input's resolution, saved as PNG for the download button. A checkpoint that fails (will not
load, runs out of memory) gives a result with the reason instead of an image; the others go on.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.models import NO_CONTROLS, Controls, ModelCache, settings_label
from stylenorm.inference import PreparedImage, save_image, stylize_batch
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import to_image

#: ``progress(fraction, description)``: how long work reports how far it is.
Progress = Callable[[float, str], None]

#: The page's default: ``auto`` precision, as the stylize command's (fast bf16 where the hardware has it).
PAGE_OPTIONS = InferenceOptions(precision="auto")


@dataclasses.dataclass
class Result:
    """One checkpoint's output for the page.

    Attributes:
        entry: the checkpoint.
        image: the stylized image at the input's size (``None`` when it failed).
        path: the PNG written for download.
        seconds: time to stylize (the network, tiling, quantisation), loading not included.
        load_seconds: time to load the checkpoint (0 when it was cached).
        settings: the model controls that applied (:func:`~stylenorm.demo.models.settings_label`).
        error: why there is no image.
    """

    entry: CheckpointEntry
    image: Image.Image | None = None
    path: Path | None = None
    seconds: float = 0.0
    load_seconds: float = 0.0
    settings: str = ""
    error: str | None = None

    def caption(self) -> str:
        """Model, norm, affine, the controls that applied, the run, and the time it took."""
        loading = f" + {self.load_seconds:.1f} s loading" if self.load_seconds >= 0.05 else ""
        return f"{self.entry.caption(self.settings)} — {self.seconds:.2f} s{loading}"


def file_name(index: int, entry: CheckpointEntry, settings: str = "") -> str:
    """``1_autoencoder_instance_affine-True_<settings>_<run>_last.png``: what the caption says, safe as a
    file name, unique within one comparison (the index)."""
    words = [entry.model, entry.norm_kind, f"affine-{entry.affine}"]
    if entry.num_styles > 1:
        words.append(f"{entry.num_styles}styles")
    words += [settings, entry.name.removesuffix(entry.path.suffix)]
    stem = re.sub(r"[^A-Za-z0-9.=-]+", "_", "_".join(word for word in words if word)).strip("_.")
    return f"{index}_{stem[-180:]}.png"


def no_progress(fraction: float, description: str) -> None:
    pass


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
    """Stylize ``image`` with every checkpoint in ``entries``, one :class:`Result` each, in order.

    ``options``: precision and tiling, as the stylize command's. Results are written as PNG files
    into ``output_dir`` (a new temporary folder when not given).
    """
    if not entries:
        raise DemoError("No checkpoint selected: tick one or more in the list of checkpoints.")
    folder = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="stylenorm-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for index, entry in enumerate(entries, start=1):
        progress((index - 1) / len(entries), f"{entry.name} ({index} of {len(entries)})")
        result = Result(entry, settings=settings_label(entry, controls))
        try:
            started = time.perf_counter()
            model = models.get(entry, controls)
            result.load_seconds = time.perf_counter() - started
            started = time.perf_counter()
            output = stylize_batch(image.pixels[None], model, options)
            result.image = to_image(output[0], image.alpha)
            result.seconds = time.perf_counter() - started
            result.path = save_image(result.image, folder / file_name(index, entry, result.settings))
        except DemoError as error:
            result.error = str(error)
        except (ValueError, RuntimeError, MemoryError) as error:  # OOM, a network that fails on this size
            result.error = f"{entry.name} failed on this image: {type(error).__name__}: {error}"
        results.append(result)
    progress(1.0, "done")
    return results
