"""Image files in and out: RGB as :func:`stylenorm.data.load_rgb` reads it (EXIF orientation, ICC to sRGB) plus the
alpha channel, put back where the output format holds it; written to a temporary file and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import ExifTags, Image, ImageOps

from stylenorm.atomic_files import atomic_path
from stylenorm.data.images import has_transparency, open_image, to_rgb

#: Output extensions and the PIL format that writes them.
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".gif": "GIF",  # 256 colours (Pillow's quantiser)
}
ALPHA_EXTENSIONS = (".png", ".webp", ".tif", ".tiff")
#: Formats whose files hold an animation (every frame in one file); PNG: APNG.
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
#: Lossy formats are written at this quality (PIL's default of 75 visibly blurs brush strokes).
LOSSY_QUALITY = 95


def split_image(image: Image.Image, source: object = "image") -> tuple[Image.Image, Image.Image | None]:
    """An image (any mode, EXIF orientation honoured) as ``(rgb, alpha as mode L or None)``, as the command sees it."""
    image = ImageOps.exif_transpose(image)
    alpha = image.convert("RGBA").getchannel("A") if has_transparency(image) else None
    return to_rgb(image, source), alpha


def read_image(path: str | os.PathLike) -> tuple[Image.Image, Image.Image | None]:
    """Decode ``path`` as ``(rgb, alpha or None)``, upright; raises what PIL raises for bad files."""
    with open_image(path) as opened:
        opened.load()  # decode now: a truncated file must fail here
        return split_image(opened, path)


def header_size(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """``(width, height, frames)`` of an image file from its header, upright; ``None`` if unreadable."""
    try:
        with open_image(path) as image:
            width, height = image.size
            if image.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8):  # turned by 90 degrees when made upright
                width, height = height, width
            return width, height, getattr(image, "n_frames", 1) if getattr(image, "is_animated", False) else 1
    except (OSError, ValueError, SyntaxError):
        return None


def output_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        expected = ", ".join(OUTPUT_FORMATS)
        raise ValueError(f"Cannot write {path}: unknown image extension {suffix or '(none)'}. Use one of {expected}.")
    return OUTPUT_FORMATS[suffix]


def _savable(image: Image.Image, path: Path) -> Image.Image:
    if image.mode == "RGBA" and path.suffix.lower() not in ALPHA_EXTENSIONS:
        return image.convert("RGB")  # JPEG / BMP / GIF: alpha is dropped
    return image


def save_image(image: Image.Image, path: str | os.PathLike, **options) -> Path:
    """Write ``image`` (RGB or RGBA) atomically, with PIL's ``options``; alpha only where the format holds it."""
    path = Path(path)
    image_format = output_format(path)
    if image_format in ("JPEG", "WEBP"):
        options.setdefault("quality", LOSSY_QUALITY)
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        _savable(image, path).save(file, format=image_format, **options)
    return path


def save_animation(
    frames: list[Image.Image], path: str | os.PathLike, durations: list[int], loop: int | None
) -> list[Path]:
    """One animated file with durations (ms) and loop count (GIF, WebP, APNG), else stills ``<stem>.0000<ext>``..."""
    path = Path(path)
    if output_format(path) not in ANIMATED_FORMATS:
        numbered = [path.with_name(f"{path.stem}.{i:04d}{path.suffix}") for i in range(len(frames))]
        return [save_image(frame, target) for frame, target in zip(frames, numbered, strict=True)]
    frames = [_savable(frame, path) for frame in frames]
    options = {"save_all": True, "append_images": frames[1:], "duration": durations}
    if loop is not None:
        options["loop"] = loop
    if output_format(path) == "GIF":
        options["disposal"] = 2  # every frame is a whole picture: clear before drawing the next
    return [save_image(frames[0], path, **options)]
