"""Networks for the page, loaded once with the stylize command's :func:`~stylenorm.inference.load_stylizer` and
kept by file, modification time and options; each checkpoint gets only the page controls it takes.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from pathlib import Path

from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.inference import Stylizer, load_stylizer, styles

DEFAULT_CAPACITY = 12  # stylizers kept in memory


@dataclasses.dataclass(frozen=True)
class Controls:
    """The page's model controls, each used only by the checkpoints that have it: the CycleGAN ``direction``,
    conditional IN's ``style`` (an index or mix weights), and AdaIN's style images, weights, alpha and colours."""

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
            choose = f"set 'Style' to one (0..{entry.num_styles - 1}) or to weights summing to 1 (e.g. 0.5,0.5,...)"
            raise DemoError(f"{entry.name} holds {entry.num_styles} styles (conditional instance norm): {choose}.")
        options["style"] = controls.style
    if entry.takes_style_images:
        if not controls.style_images:
            raise DemoError(f"{entry.name} is an AdaIN network: upload its style image under 'AdaIN style image(s)'.")
        options.update(
            style_images=controls.style_images,
            style_weights=controls.style_weights or None,
            alpha=controls.alpha,
            preserve_color=controls.preserve_color,
        )
        if entry.encoder is not None:
            options["encoder"] = entry.encoder
    return options


class ModelCache:
    """Stylizers by (file, modification time, options), the least recently used dropped; serialised loading."""

    def __init__(self, device: str = "auto", capacity: int = DEFAULT_CAPACITY):
        self.device = device
        self.loads = 0  # how many times a file was actually read (the tests check the caching)
        self._lock = threading.Lock()
        self._load = functools.lru_cache(maxsize=capacity)(self._read)

    def _read(self, path: Path, modified: int, options: tuple) -> Stylizer:
        model = load_stylizer(path, device=self.device, **dict(options))
        self.loads += 1
        return model

    def get(self, entry: CheckpointEntry, controls: Controls = NO_CONTROLS) -> Stylizer:
        """The stylizer for ``entry`` under ``controls``; :class:`DemoError` naming the file when it fails."""
        if entry.error is not None:
            raise DemoError(f"{entry.name} cannot be read: {entry.error}")
        options = tuple(sorted(options_for(entry, controls).items()))
        try:
            modified = entry.path.stat().st_mtime_ns
        except OSError as error:
            raise DemoError(f"{entry.name} is gone: {error.strerror} ({entry.path}).") from None
        with self._lock:
            try:
                return self._load(entry.path, modified, options)
            except (ValueError, OSError, RuntimeError) as error:
                raise DemoError(f"{entry.name} did not load: {error}") from None


def _numbers(text: str | None, box: str, hint: str) -> tuple[float, ...] | None:
    text = (text or "").strip()
    try:
        return tuple(styles.parse_weights(text, box)) if text else None
    except ValueError as error:
        raise DemoError(f"{error} {hint}") from None


def controls_from(direction, style, style_images, style_weights, alpha, preserve_color) -> Controls:
    """The page's model controls as :class:`Controls`; 'Style' is an index (``2``) or mix weights (``0.3,0.7``)."""
    style = (style or "").strip()
    return Controls(
        direction=direction or "AtoB",
        style=int(style) if style.isdigit() else _numbers(style, "Style", "Or a style index: 0, 1, ..."),
        style_images=tuple(str(path) for path in (style_images or [])),
        style_weights=_numbers(style_weights, "Style weights", "One per style image."),
        alpha=float(alpha),
        preserve_color=bool(preserve_color),
    )
