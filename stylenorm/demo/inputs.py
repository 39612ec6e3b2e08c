"""The page's input image: an upload read as the stylize command reads it (its header's size checked against a pixel
limit first), or a sample (the scikit-image wheel's photographs); a message names the problem when it is not one."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from stylenorm.data.sources import skimage_data_dir
from stylenorm.inference import PreparedImage, prepare

DEFAULT_MAX_PIXELS = 12_000_000  # above 4K UHD
#: Largest input the page stylizes at once; larger ones wait in a queue of their own (session.py).
DEFAULT_LARGE_PIXELS = 1_000_000
#: What people can upload (what Pillow reads and the stylize command accepts).
READABLE = "PNG, JPEG, WebP, BMP, TIFF or GIF"

#: Shown name -> file in ``skimage/data``; a portrait, a cat, a cup, a street scene: different light.
SAMPLES = {
    "astronaut (512x512)": "astronaut.png",
    "cat (451x300)": "chelsea.png",
    "coffee (600x400)": "coffee.png",
    "rocket (640x427)": "rocket.jpg",
}


class DemoError(Exception):
    """A problem a person can fix (a bad file, a checkpoint that will not load): shown on the page as is."""


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def read_input(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> PreparedImage:
    """Decode an upload as the stylize command would; :class:`DemoError` naming the first problem found."""
    path, upload = Path(path), f"Upload a {READABLE} image."
    name = path.name
    if not path.is_file():
        raise DemoError(f"{name}: no such file (the upload did not arrive; try again).")
    if path.stat().st_size == 0:
        raise DemoError(f"{name} is empty (0 bytes). {upload}")
    try:
        with Image.open(path) as header:  # reads the header only: the size is known before decoding
            width, height = header.size
    except UnidentifiedImageError:
        raise DemoError(f"{name} is not an image: Pillow recognises no image format in it. {upload}") from None
    except Image.DecompressionBombError as error:
        raise DemoError(f"{name} is too large to open safely: {error}") from None
    except OSError as error:
        raise DemoError(f"{name} could not be read: {error}. {upload}") from None
    if max_pixels and width * height > max_pixels:
        raise DemoError(
            f"{name} is {width}x{height} px (this page takes at most {max_pixels / 1e6:.1f} megapixels): resize it, "
            f"raise --max-pixels, or use the stylize command (it tiles any size)."
        )
    try:
        return prepare(path)
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for damaged files
        raise DemoError(
            f"{name} looks like an image ({width}x{height} px) but could not be decoded: "
            f"{first_line(error) or type(error).__name__}. It may be damaged or only partly uploaded."
        ) from None


def read_image(
    image: str | os.PathLike | PreparedImage | None, sample: str | None, max_pixels: int | None
) -> PreparedImage:
    """The uploaded file when given (or an image already read), else the named sample image (of any size)."""
    if isinstance(image, PreparedImage):
        return image
    if image:
        return read_input(image, max_pixels=max_pixels)
    if not sample:
        raise DemoError("No image: upload one or pick a sample image.")
    if sample not in SAMPLES:
        raise DemoError(f"No sample image called {sample!r}; the samples are {', '.join(SAMPLES)}.")
    return read_input(skimage_data_dir() / SAMPLES[sample], max_pixels=None)
