"""Image files in and out of the stylize command: RGB plus the alpha channel to carry through.

Reading uses :func:`stylenorm.data.load_rgb` (EXIF orientation, ICC profiles to sRGB, grayscale, palette, CMYK, 16-bit,
transparency composited over white - the colour under transparent pixels is undefined, so the
network must not see it). The alpha channel itself is read separately and put back on the output
when the output format can hold it (PNG, WebP, TIFF); JPEG and BMP outputs drop it.

Writing goes through a temporary file in the output folder and a rename, so an interrupted run
never leaves a half-written image under the final name.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageOps

from stylenorm.atomic_files import atomic_path
from stylenorm.data.images import has_transparency, load_rgb, open_image, to_rgb

#: Output extensions and the PIL format that writes them.
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".gif": "GIF",  # 256 colours (Pillow's quantiser); animated GIFs: stylenorm.inference.animation
}
#: Output extensions whose format keeps an alpha channel.
ALPHA_EXTENSIONS = (".png", ".webp", ".tif", ".tiff")
#: Lossy formats are written at this quality (PIL's default of 75 visibly blurs brush strokes).
LOSSY_QUALITY = 95


def has_alpha(image: Image.Image) -> bool:
    """Whether ``image`` has transparency: an alpha band or a transparent palette entry.

    The same rule :func:`load_rgb` composites by, so alpha is carried exactly where it was removed.
    """
    return has_transparency(image)


def alpha_of(image: Image.Image) -> Image.Image | None:
    """The alpha channel of an (upright) image as mode ``L``, or ``None`` for an opaque one."""
    if not has_alpha(image):
        return None
    if image.mode in ("RGBA", "LA"):
        return image.getchannel("A")
    return image.convert("RGBA").getchannel("A")


def flatten_to_rgb(image: Image.Image) -> Image.Image:
    """In-memory counterpart of :func:`load_rgb` for an image already decoded and upright: the same
    steps (:func:`stylenorm.data.images.to_rgb`), so ``stylize(Image.open(f))`` and the command see
    the same pixels."""
    return to_rgb(image)


def split_image(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """An in-memory image (any mode, EXIF orientation honoured) as ``(rgb, alpha or None)``."""
    image = ImageOps.exif_transpose(image)
    return flatten_to_rgb(image), alpha_of(image)


def read_image(path: str | os.PathLike) -> tuple[Image.Image, Image.Image | None]:
    """Decode ``path`` as ``(rgb, alpha or None)``, upright; raises what PIL raises for bad files."""
    rgb = load_rgb(path)
    with open_image(path) as opened:
        if not has_alpha(opened):  # header only: opaque files are decoded once, by load_rgb
            return rgb, None
        opened.load()
        alpha = alpha_of(ImageOps.exif_transpose(opened))
    return rgb, alpha


def output_format(path: str | os.PathLike) -> str:
    """The PIL format for an output path, from its extension; a readable error for unknown ones."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(
            f"Cannot write {path}: unknown image extension {suffix or '(none)'}. "
            f"Use one of {', '.join(OUTPUT_FORMATS)}."
        )
    return OUTPUT_FORMATS[suffix]


#: Formats whose files hold an animation (every frame in one file).
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")  # PNG: APNG


def _write_atomically(path: Path, write) -> Path:
    """``write(file)`` into a temporary file beside ``path``, then rename it over ``path``."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        write(file)
    return path


def _savable(image: Image.Image, path: Path) -> Image.Image:
    if image.mode == "RGBA" and path.suffix.lower() not in ALPHA_EXTENSIONS:
        return image.convert("RGB")  # JPEG / BMP / GIF: documented, alpha is dropped
    return image


def save_image(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write ``image`` (RGB or RGBA) to ``path``; alpha is kept only where the format holds it."""
    path = Path(path)
    image_format = output_format(path)
    image = _savable(image, path)
    options = {"quality": LOSSY_QUALITY} if image_format in ("JPEG", "WEBP") else {}
    return _write_atomically(path, lambda file: image.save(file, format=image_format, **options))


def save_animation(
    frames: list[Image.Image], path: str | os.PathLike, durations: list[int], loop: int | None
) -> list[Path]:
    """Write ``frames`` as one animated file where the format holds animations (GIF, WebP, APNG),
    with the input's frame durations (ms) and loop count; otherwise (JPEG, BMP, TIFF) as numbered
    stills ``<stem>.0000<ext>``, ``<stem>.0001<ext>``, ... Returns the files written."""
    path = Path(path)
    image_format = output_format(path)
    frames = [_savable(frame, path) for frame in frames]
    if image_format not in ANIMATED_FORMATS:
        numbered = [path.with_name(f"{path.stem}.{i:04d}{path.suffix}") for i in range(len(frames))]
        return [save_image(frame, target) for frame, target in zip(frames, numbered, strict=True)]
    options = {"save_all": True, "append_images": frames[1:], "duration": durations}
    if loop is not None:
        options["loop"] = loop
    if image_format == "WEBP":
        options["quality"] = LOSSY_QUALITY
    if image_format == "GIF":
        options["disposal"] = 2  # every frame is a whole picture: clear before drawing the next
    return [_write_atomically(path, lambda file: frames[0].save(file, format=image_format, **options))]
