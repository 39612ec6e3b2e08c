"""Image files in and out of the stylize command: RGB plus the alpha channel to carry through.

Reading uses :func:`stylenorm.data.load_rgb` (EXIF orientation, grayscale, palette, CMYK, 16-bit,
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

from stylenorm.data.images import _to_8bit, load_rgb

#: Output extensions and the PIL format that writes them.
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
#: Output extensions whose format keeps an alpha channel.
ALPHA_EXTENSIONS = (".png", ".webp", ".tif", ".tiff")
#: Lossy formats are written at this quality (PIL's default of 75 visibly blurs brush strokes).
LOSSY_QUALITY = 95

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_HIGH_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def has_alpha(image: Image.Image) -> bool:
    """Whether ``image`` has transparency: an alpha band or a transparent palette entry.

    The same rule :func:`load_rgb` composites by, so alpha is carried exactly where it was removed.
    """
    return image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def alpha_of(image: Image.Image) -> Image.Image | None:
    """The alpha channel of an (upright) image as mode ``L``, or ``None`` for an opaque one."""
    if not has_alpha(image):
        return None
    if image.mode in ("RGBA", "LA"):
        return image.getchannel("A")
    return image.convert("RGBA").getchannel("A")


def flatten_to_rgb(image: Image.Image) -> Image.Image:
    """In-memory counterpart of :func:`load_rgb` for an image already decoded and upright.

    Same steps in the same order (8-bit scaling of 16-bit/float images, transparency over white,
    RGB), so ``stylize(Image.open(f))`` and the command see the same pixels.
    """
    if image.mode in _HIGH_BIT_MODES:
        image = _to_8bit(image)
    if has_alpha(image):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("RGB") if image.mode != "RGB" else image


def split_image(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """An in-memory image (any mode, EXIF orientation honoured) as ``(rgb, alpha or None)``."""
    image = ImageOps.exif_transpose(image)
    return flatten_to_rgb(image), alpha_of(image)


def read_image(path: str | os.PathLike) -> tuple[Image.Image, Image.Image | None]:
    """Decode ``path`` as ``(rgb, alpha or None)``, upright; raises what PIL raises for bad files."""
    rgb = load_rgb(path)
    with Image.open(path) as opened:
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


def save_image(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write ``image`` (RGB or RGBA) to ``path``; alpha is kept only where the format holds it."""
    path = Path(path)
    image_format = output_format(path)
    if image.mode == "RGBA" and path.suffix.lower() not in ALPHA_EXTENSIONS:
        image = image.convert("RGB")  # JPEG / BMP: documented, alpha is dropped
    options = {"quality": LOSSY_QUALITY} if image_format in ("JPEG", "WEBP") else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its files are private (0600); this one gets the usual permissions.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(temporary, "wb") as file:
            image.save(file, format=image_format, **options)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
