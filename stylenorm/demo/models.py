"""Networks for the page, loaded once with the inference API and kept.

Every network comes from :func:`stylenorm.inference.load_stylizer`, the stylize command's loader:
the page has no loading code of its own. What a stylizer computes depends on more than the file - a
CycleGAN direction, a conditional-IN style baked into the weights, AdaIN's style images - so the
cache key is the file (with its modification time, so a retrained ``last.ckpt`` is reloaded) plus
those options. Only the options that apply to a checkpoint are passed to it
(:func:`options_for`), so one set of page controls can serve a mixed selection.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from pathlib import Path

from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.inference import Stylizer, load_stylizer, styles

#: Stylizers kept in memory (a CycleGAN generator at full width is about 45 MB).
DEFAULT_CAPACITY = 12


@dataclasses.dataclass(frozen=True)
class Controls:
    """The page's model controls; each applies only to the checkpoints that have it.

    Attributes:
        direction: ``AtoB`` / ``BtoA``, for this project's CycleGAN checkpoints.
        style: a style index or mix weights (one per style, summing to 1), for conditional instance norm.
        style_images: files of style images, for AdaIN.
        style_weights: one weight per style image (summing to 1), for AdaIN with several.
        alpha: AdaIN's content-style trade-off in [0, 1].
        preserve_color: AdaIN: recolour the style images to the content first.
    """

    direction: str = "AtoB"
    style: int | tuple[float, ...] | None = None
    style_images: tuple[str, ...] = ()
    style_weights: tuple[float, ...] | None = None
    alpha: float = 1.0
    preserve_color: bool = False


#: The controls of a fresh page: each checkpoint's defaults.
NO_CONTROLS = Controls()


def options_for(entry: CheckpointEntry, controls: Controls) -> dict:
    """The ``load_stylizer`` keyword arguments ``controls`` give for ``entry`` (only those it takes)."""
    options: dict = {}
    if entry.directions:
        options["direction"] = controls.direction
    if entry.num_styles > 1:
        if controls.style is None:
            raise DemoError(
                f"{entry.name} holds {entry.num_styles} styles (conditional instance norm): choose one in "
                f"'Style' (0..{entry.num_styles - 1}) or mix them with weights summing to 1 (e.g. 0.5,0.5,0,...)."
            )
        options["style"] = controls.style
    if entry.takes_style_images:
        if not controls.style_images:
            raise DemoError(
                f"{entry.name} is an AdaIN network: it takes its style from an image. Upload one under 'AdaIN style "
                f"image(s)'."
            )
        options["style_images"] = list(controls.style_images)
        options["style_weights"] = list(controls.style_weights) if controls.style_weights else None
        options["alpha"] = controls.alpha
        options["preserve_color"] = controls.preserve_color
        if entry.encoder is not None:
            options["encoder"] = entry.encoder
    return options


def settings_label(entry: CheckpointEntry, controls: Controls) -> str:
    """The controls that apply to ``entry``, in words (``BtoA``, ``style 2``, ``style mix 0.3/0.7``,
    ``style starry.jpg, alpha 0.8``), for captions and file names; empty when none apply."""
    try:
        options = options_for(entry, controls)
    except DemoError:  # a required control is missing: the result says so instead
        return ""
    parts = []
    if "direction" in options:
        parts.append(options["direction"])
    style = options.get("style")
    if isinstance(style, int):
        parts.append(f"style {style}")
    elif style is not None:
        parts.append("style mix " + "/".join(f"{weight:g}" for weight in style))
    if "style_images" in options:
        names = [Path(image).name for image in options["style_images"]]
        weights = options.get("style_weights")
        if weights and len(weights) == len(names):
            names = [f"{weight:g} {name}" for weight, name in zip(weights, names, strict=True)]
        parts.append("style " + " + ".join(names))
        parts.append(f"alpha {options['alpha']:g}")
        if options.get("preserve_color"):
            parts.append("content colours kept")
    return ", ".join(parts)


def _freeze(options: dict) -> tuple:
    return tuple(sorted((key, tuple(value) if isinstance(value, list) else value) for key, value in options.items()))


class ModelCache:
    """Stylizers by (file, modification time, options), least recently used dropped beyond ``capacity``.

    Safe to call from the server's worker threads: loading is serialised (two requests for one file
    load it once).
    """

    def __init__(self, device: str = "auto", capacity: int = DEFAULT_CAPACITY):
        self.device = device
        self.capacity = capacity
        self._models: collections.OrderedDict[tuple, Stylizer] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a file was actually read (the tests check the caching)

    def get(self, entry: CheckpointEntry, controls: Controls = NO_CONTROLS) -> Stylizer:
        """The stylizer for ``entry`` under ``controls``; :class:`DemoError` naming the file when it fails."""
        if entry.error is not None:
            raise DemoError(f"{entry.name} cannot be read: {entry.error}")
        options = options_for(entry, controls)
        try:
            modified = entry.path.stat().st_mtime_ns
        except OSError as error:
            raise DemoError(f"{entry.name} is gone: {error.strerror} ({entry.path}).") from None
        key = (str(entry.path), modified, _freeze(options))
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            try:
                model = load_stylizer(entry.path, device=self.device, **options)
            except (ValueError, OSError, RuntimeError) as error:
                raise DemoError(f"{entry.name} did not load: {error}") from None
            self.loads += 1
            self._models[key] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


def parse_style(text: str | None) -> int | tuple[float, ...] | None:
    """The page's 'Style' box: empty -> None, ``2`` -> index 2, ``0.3,0.7`` -> mix weights."""
    text = (text or "").strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise DemoError(
            f"Style {text!r}: expected a style index (0, 1, ...) or comma-separated mix weights summing to 1 (0.3,0.7)."
        ) from None


def parse_weights(text: str | None) -> tuple[float, ...] | None:
    """The 'Style weights' box for AdaIN style images: empty -> None. Several images without weights
    are refused by the loader, as by the stylize command: an average nobody asked for is not shown."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return tuple(styles.parse_weights(text, "Style weights"))
    except ValueError as error:
        raise DemoError(f"{error} One per style image.") from None


def controls_from(direction, style, style_images, style_weights, alpha, preserve_color) -> Controls:
    """The model controls of the page as :class:`Controls` (:class:`DemoError` for unreadable text)."""
    images = tuple(str(path) for path in (style_images or []))
    return Controls(
        direction=direction or "AtoB",
        style=parse_style(style),
        style_images=images,
        style_weights=parse_weights(style_weights),
        alpha=float(alpha),
        preserve_color=bool(preserve_color),
    )
