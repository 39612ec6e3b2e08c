"""Reading the image a person gives the page, with a message naming the problem when it is not one.

Decoding is the stylize command's (:func:`stylenorm.inference.prepare`: EXIF orientation, ICC to
sRGB, grayscale/CMYK/16-bit to RGB, transparency over white). Before decoding, the size in the
file's header is checked against a pixel limit: the page holds every result in memory and runs on
whatever machine serves it, and a 100-megapixel photo would stall it for minutes. (The stylize
command has no such limit: it tiles and streams a folder.)
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from stylenorm.inference import PreparedImage, prepare

#: Default pixel limit of an input (about 4K UHD: 3840 x 2160 is 8.3 MP).
DEFAULT_MAX_PIXELS = 12_000_000

#: Largest input the page stylizes at once, in pixels (1000 x 1000); larger ones wait in a queue of their own
#: (:class:`stylenorm.demo.session.DemoSession`).
DEFAULT_LARGE_PIXELS = 1_000_000

#: What people can upload (what Pillow reads and the stylize command accepts).
READABLE = "PNG, JPEG, WebP, BMP, TIFF or GIF"


class DemoError(Exception):
    """A problem a person can fix (a bad file, a checkpoint that will not load): shown on the page as is."""


def read_input(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> PreparedImage:
    """Decode an uploaded file as the stylize command would; :class:`DemoError` naming what is wrong.

    Checked in this order, so the message names the first real problem: the file exists and is not
    empty, Pillow recognises an image in it, its size is within ``max_pixels``, it decodes fully.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise DemoError(f"{name}: no such file (the upload did not arrive; try again).")
    if path.stat().st_size == 0:
        raise DemoError(f"{name} is empty (0 bytes). Upload a {READABLE} image.")
    try:
        with Image.open(path) as header:  # reads the header only: the size is known before decoding
            width, height = header.size
    except UnidentifiedImageError:
        raise DemoError(
            f"{name} is not an image: Pillow recognises no image format in it. Upload a {READABLE} file."
        ) from None
    except Image.DecompressionBombError as error:
        raise DemoError(f"{name} is too large to open safely: {error}") from None
    except OSError as error:
        raise DemoError(f"{name} could not be read: {error}. Upload a {READABLE} image.") from None
    if max_pixels and width * height > max_pixels:
        raise DemoError(
            f"{name} is {width}x{height} px ({width * height / 1e6:.1f} megapixels); this page takes images of at "
            f"most {max_pixels / 1e6:.1f} megapixels. Resize it first, start the page with a larger "
            f"--max-pixels, or stylize it with the stylize command, which tiles images of any size."
        )
    try:
        return prepare(path)
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for damaged files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DemoError(
            f"{name} looks like an image ({width}x{height} px) but could not be decoded: {reason}. It may be "
            f"damaged or only partly uploaded."
        ) from None
