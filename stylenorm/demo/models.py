"""Networks for the page, loaded once with the stylize command's loader (:func:`stylenorm.inference.load_stylizer`)
and kept. The cache key is the file with its modification time (a retrained ``last.ckpt`` is reloaded) plus the
options that change what it computes (CycleGAN direction, conditional-IN style, AdaIN style images); only the
options a checkpoint takes are passed to it (:func:`options_for`), so one set of page controls serves a mixed
selection.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from pathlib import Path

from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.inference import Stylizer, load_stylizer, styles

#: Stylizers kept in memory.
DEFAULT_CAPACITY = 12


@dataclasses.dataclass(frozen=True)
class Controls:
    """The page's model controls, each applying only to the checkpoints that have it: the CycleGAN
    ``direction``, conditional IN's ``style`` (an index or mix weights summing to 1), and AdaIN's
    ``style_images``, their ``style_weights``, ``alpha`` and ``preserve_color``."""

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
        options.update(
            style_images=controls.style_images,
            style_weights=controls.style_weights or None,
            alpha=controls.alpha,
            preserve_color=controls.preserve_color,
        )
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
    parts = [options["direction"]] if "direction" in options else []
    style = options.get("style")
    if style is not None:
        parts.append(f"style {style}" if isinstance(style, int) else "style mix " + "/".join(f"{w:g}" for w in style))
    if "style_images" in options:
        names = [Path(image).name for image in options["style_images"]]
        weights = options["style_weights"]
        if weights and len(weights) == len(names):
            names = [f"{weight:g} {name}" for weight, name in zip(weights, names, strict=True)]
        parts += ["style " + " + ".join(names), f"alpha {options['alpha']:g}"]
        if options["preserve_color"]:
            parts.append("content colours kept")
    return ", ".join(parts)


class ModelCache:
    """Stylizers by (file, modification time, options), least recently used dropped beyond ``capacity``.
    Loading is serialised: two server threads asking for one file load it once."""

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
            key = (str(entry.path), entry.path.stat().st_mtime_ns, tuple(sorted(options.items())))
        except OSError as error:
            raise DemoError(f"{entry.name} is gone: {error.strerror} ({entry.path}).") from None
        with self._lock:
            if key not in self._models:
                try:
                    self._models[key] = load_stylizer(entry.path, device=self.device, **options)
                except (ValueError, OSError, RuntimeError) as error:
                    raise DemoError(f"{entry.name} did not load: {error}") from None
                self.loads += 1
            self._models.move_to_end(key)
            model = self._models[key]
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return model


def parse_style(text: str | None) -> int | tuple[float, ...] | None:
    """The page's 'Style' box: empty -> None, ``2`` -> index 2, ``0.3,0.7`` -> mix weights."""
    text = (text or "").strip()
    if not text or text.isdigit():
        return int(text) if text else None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise DemoError(
            f"Style {text!r}: expected a style index (0, 1, ...) or comma-separated mix weights summing to 1 (0.3,0.7)."
        ) from None


def parse_weights(text: str | None) -> tuple[float, ...] | None:
    """The 'Style weights' box for AdaIN style images: empty -> None (several images without weights are
    refused by the loader, as by the stylize command)."""
    text = (text or "").strip()
    try:
        return tuple(styles.parse_weights(text, "Style weights")) if text else None
    except ValueError as error:
        raise DemoError(f"{error} One per style image.") from None


def controls_from(direction, style, style_images, style_weights, alpha, preserve_color) -> Controls:
    """The model controls of the page as :class:`Controls` (:class:`DemoError` for unreadable text)."""
    return Controls(
        direction=direction or "AtoB",
        style=parse_style(style),
        style_images=tuple(str(path) for path in (style_images or [])),
        style_weights=parse_weights(style_weights),
        alpha=float(alpha),
        preserve_color=bool(preserve_color),
    )
