"""The page's work without the page: :class:`DemoSession`, usable from Python as the page uses it. Images over
``large_pixels`` run in a lane of their own (why: docs/modules.md); example: docs/demo.md ("From Python").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure
from PIL import Image

from stylenorm.demo.activations import STATISTICS_SIZE, norm_layer_statistics, statistics_figure, statistics_rows
from stylenorm.demo.catalog import DEFAULT_RUN_FOLDERS, CheckpointEntry, describe, find_checkpoints
from stylenorm.demo.compare import LightingResult, Progress, Result, each_network, file_name, no_progress, relight
from stylenorm.demo.inputs import DEFAULT_LARGE_PIXELS, DEFAULT_MAX_PIXELS, DemoError, first_line, read_image
from stylenorm.demo.models import NO_CONTROLS, Controls, ModelCache
from stylenorm.inference import PreparedImage, Stylizer, save_image, stylize_batch
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import to_image
from stylenorm.inference.stylizer import resolve_device
from stylenorm.inference.tiling import DEFAULT_TILE_STATISTICS, downscale

ImageSource = str | os.PathLike | PreparedImage
Checkpoints = Sequence[str | os.PathLike | CheckpointEntry]

KEPT_COMPARISONS = 20  # earlier comparisons whose result files are kept for download; older ones are deleted
LARGE_QUEUE = 4  # large images waiting or running at once; more are refused until one is done


class DemoSession:
    """Checkpoints found under ``runs``, networks loaded once on ``device``, and the page's computations;
    ``precision``, ``tile`` and ``tile_stats`` as the stylize command's, for the side-by-side results."""

    def __init__(
        self,
        runs: Iterable[str | os.PathLike] = DEFAULT_RUN_FOLDERS,
        *,
        device: str = "auto",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        precision: str = "auto",
        tile: int | None = None,
        tile_stats: str = DEFAULT_TILE_STATISTICS,
        large_pixels: int = DEFAULT_LARGE_PIXELS,
    ):
        resolve_device(device)  # a bad device is refused now, not at the first click
        self.runs = [Path(folder) for folder in runs]
        self.models = ModelCache(device)
        self.large_models = ModelCache(device)  # the large lane's own network objects
        self.large_pixels = large_pixels
        self.max_pixels = max_pixels
        self.options = InferenceOptions(precision=precision, tile=tile, tile_stats=tile_stats)  # refused now if bad
        self._lock = threading.Lock()
        self._large_lock = threading.Lock()
        self._queue_lock = threading.Lock()  # guards the list and the counter below
        self._large: list[str | None] = []  # the visitors with a large image waiting or running
        # Results for download live here, one numbered folder per comparison; the oldest are removed
        # (Gradio serves its own copies), so a page left running does not fill the disk.
        self._outputs = tempfile.TemporaryDirectory(prefix="stylenorm-demo-")
        self._comparisons = 0
        self.refresh()

    def refresh(self) -> None:
        self.entries = find_checkpoints(self.runs)

    def entry(self, checkpoint: str | os.PathLike | CheckpointEntry) -> CheckpointEntry:
        """The listed entry for a path; a file outside the run folders is described on the spot."""
        if isinstance(checkpoint, CheckpointEntry):
            return checkpoint
        path = Path(checkpoint).resolve()
        try:
            return next((entry for entry in self.entries if entry.path == path), None) or describe(path)
        except (ValueError, OSError, RuntimeError) as error:
            raise DemoError(f"{Path(checkpoint).name} cannot be used: {first_line(error)}") from None

    def read(self, image: ImageSource | None = None, sample: str | None = None) -> PreparedImage:
        return read_image(image, sample, self.max_pixels)

    def _inputs(self, image, sample, checkpoints: Checkpoints) -> tuple[PreparedImage, list[CheckpointEntry]]:
        return self.read(image, sample), [self.entry(checkpoint) for checkpoint in checkpoints]

    def stylize(
        self,
        image: ImageSource | None,
        checkpoints: Checkpoints,
        controls: Controls = NO_CONTROLS,
        *,
        sample: str | None = None,
        output_dir: str | os.PathLike | None = None,
        progress: Progress = no_progress,
        visitor: str | None = None,
    ) -> list[Result]:
        """The image through every checkpoint, as the stylize command makes it, saved to ``output_dir`` (default: a
        folder kept for :data:`KEPT_COMPARISONS` more comparisons). ``visitor``: the page's session id."""
        prepared, entries = self._inputs(image, sample, checkpoints)
        height, width = prepared.size
        large = height * width > self.large_pixels
        with self._large_lane(visitor, progress) if large else self._lock:
            folder = Path(output_dir or self._next_output_folder())
            folder.mkdir(parents=True, exist_ok=True)

            def stylized(index: int, result: Result, model: Stylizer) -> None:
                started = time.perf_counter()
                result.image = to_image(stylize_batch(prepared.pixels[None], model, self.options)[0], prepared.alpha)
                result.seconds = time.perf_counter() - started
                result.path = save_image(result.image, folder / file_name(index, result.entry, result.settings))

            return each_network(entries, self.large_models if large else self.models, controls, progress, stylized)

    @contextlib.contextmanager
    def _large_lane(self, visitor: str | None, progress: Progress):
        """Hold the large lane after the large images ahead; :class:`DemoError` when full or the visitor is in it."""
        over = f"over {self.large_pixels / 1e6:g} megapixels"
        with self._queue_lock:
            if visitor is not None and visitor in self._large:
                raise DemoError(f"The page takes one large image per visitor at a time ({over}): wait, or resize.")
            if len(self._large) >= LARGE_QUEUE:
                raise DemoError(f"{LARGE_QUEUE} images {over} are queued: try again later, or resize yours.")
            ahead = len(self._large)
            self._large.append(visitor)
        try:
            if ahead:
                progress(0.0, f"Waiting for {ahead} larger image(s) ahead of yours")
            with self._large_lock:
                yield
        finally:
            with self._queue_lock:
                self._large.remove(visitor)

    def _next_output_folder(self) -> Path:
        with self._queue_lock:  # both lanes number their folders
            self._comparisons += 1
            number = self._comparisons
        root = Path(self._outputs.name)
        for old in sorted(root.iterdir(), key=lambda folder: int(folder.name))[:-KEPT_COMPARISONS]:
            shutil.rmtree(old, ignore_errors=True)
        return root / str(number)

    def statistics(
        self,
        image: ImageSource | None,
        checkpoints: Checkpoints,
        controls: Controls = NO_CONTROLS,
        *,
        sample: str | None = None,
        progress: Progress = no_progress,
    ) -> tuple[Figure, list[list], list[str]]:
        """Activation statistics around the norm layers: figure, table rows, a note per failure or norm-free net."""
        prepared, entries = self._inputs(image, sample, checkpoints)
        labelled = []

        def measure(index: int, result: Result, model: Stylizer) -> None:
            entry, layers = result.entry, norm_layer_statistics(prepared, model)
            if not layers:
                raise DemoError(f"{entry.name} has no norm layers (norm=none): nothing to plot.")
            labelled.append((f"{entry.model}: {entry.norm_label} ({entry.run or entry.path.name})", layers))

        with self._lock:
            results = each_network(entries, self.models, controls, progress, measure)
        return statistics_figure(labelled), statistics_rows(labelled), [r.error for r in results if r.error]

    def lighting(
        self,
        image: ImageSource | None,
        checkpoints: Checkpoints,
        controls: Controls = NO_CONTROLS,
        *,
        brightness: float = 0.0,
        contrast: float = 1.0,
        sample: str | None = None,
        progress: Progress = no_progress,
    ) -> tuple[Image.Image, list[LightingResult], float]:
        """The relit input (downscaled), each checkpoint's output on it with how far it moved, and the fraction of
        values clipped; in the small lane, in fp32 (bf16 rounding alone would blur the small changes this is about)."""
        prepared, entries = self._inputs(image, sample, checkpoints)
        original = downscale(prepared.pixels[None], STATISTICS_SIZE).round().clamp(0, 255).to(torch.uint8)
        lit, clipped = relight(original, brightness, contrast)
        pair = (original[0], lit[0])

        def moved(index: int, result: LightingResult, model: Stylizer) -> None:
            # One image per call: batch norm built without running statistics normalises over the batch
            # even in eval mode, and must not see the other image.
            outputs = [stylize_batch(one[None], model, precision="fp32", auto_tile_pixels=None)[0] for one in pair]
            result.change = (outputs[1].float() - outputs[0].float()).abs().mean().item()
            result.image = to_image(outputs[1])

        with self._lock:
            results = each_network(entries, self.models, controls, progress, moved, LightingResult)
        return to_image(lit[0]), results, clipped
