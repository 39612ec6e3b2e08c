"""Finding and decoding image files the way users have them (no Lightning here: inference imports it): EXIF-rotated,
grayscale, palette, CMYK, 16-bit and ICC-tagged files become 8-bit sRGB; undecodable files are skipped with a warning.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

#: File name endings taken as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")

PathLikeStr = str | PathLike


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded and is skipped."""


class ColourProfileWarning(UserWarning):
    """An embedded ICC profile could not be applied; the pixels are used as stored."""


class UnreadableImageError(OSError):
    """Raised by :meth:`ImageList.read` for a file that could not be decoded (warned about once)."""


class ImageTooLargeError(UnreadableImageError):
    """A decompression bomb: an ``OSError`` (unlike Pillow's own error), so callers skip it like any bad file."""


@contextlib.contextmanager
def open_image(path: PathLikeStr) -> Iterator[Image.Image]:
    """``Image.open(path)``, a decompression bomb raising :class:`ImageTooLargeError`."""
    try:
        with Image.open(path) as image:
            yield image
    except Image.DecompressionBombError as error:
        fix = "shrink it, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
        raise ImageTooLargeError(f"too large to decode safely ({error}): {fix}.") from None


def list_images(folder: PathLikeStr, recursive: bool = True, *, hint: str = "") -> list[Path]:
    """Image files under ``folder``, sorted, hidden ones left out; none raises ``FileNotFoundError`` + ``hint``."""
    folder = Path(folder)
    fix = f" {hint}" if hint else " Point the config at a folder of .png/.jpg images."
    if not folder.is_dir():
        found = "a file" if folder.exists() else "nothing"
        raise FileNotFoundError(f"Image folder {folder} not found (found {found} there).{fix}")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    images = sorted(
        path
        for path in candidates
        if path.suffix.lower() in IMAGE_EXTENSIONS
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    if not images:
        where = "in it or its subfolders" if recursive else "in it"
        raise FileNotFoundError(f"Image folder {folder} has no images {where} ({', '.join(IMAGE_EXTENSIONS)}).{fix}")
    return images


#: The colour spaces (ICC ``xcolor_space``) an image mode can be converted from.
_PROFILE_MODES = {"RGB ": ("RGB", "RGBA", "P"), "CMYK": ("CMYK",), "GRAY": ("L", "LA")}
_SRGB = ImageCms.createProfile("sRGB")


def to_srgb(image: Image.Image, source: object = "image") -> Image.Image:
    """Pixels of an embedded ICC profile's colour space converted to sRGB (littleCMS), alpha carried through;
    a profile that cannot be applied is warned about (:class:`ColourProfileWarning`), never silently dropped."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return image
        space = profile.profile.xcolor_space
        if image.mode not in _PROFILE_MODES.get(space, ()):
            raise ValueError(f"a {space.strip()} profile on a {image.mode} image")
        if image.mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
        colour = image.convert({"RGBA": "RGB", "LA": "L"}.get(image.mode, image.mode))
        converted = ImageCms.profileToProfile(colour, profile, _SRGB, outputMode="RGB")
    except (OSError, ValueError, ImageCms.PyCMSError) as error:
        message = f"{source}: its embedded colour profile could not be applied ({error}); re-export it as sRGB"
        warnings.warn(f"{message} (its pixels are used as stored).", ColourProfileWarning, stacklevel=2)
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def has_transparency(image: Image.Image) -> bool:
    """An alpha band or a transparent palette entry."""
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info)


def to_rgb(image: Image.Image, source: object = "image") -> Image.Image:
    """Any mode as 8-bit sRGB: high bit depths scaled, ICC profile applied, transparency composited over white."""
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):  # as L, scaled: PIL's convert would clip at 255
        icc, array = image.info.get("icc_profile"), np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16") or (image.mode == "I" and array.max(initial=0) > 255):
            array = array / 257.0  # 65535 -> 255
        elif image.mode == "F" and array.max(initial=0.0) <= 1.0:
            array = array * 255.0  # float images in [0, 1]
        image = Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), mode="L")
        if icc:
            image.info["icc_profile"] = icc
    image = to_srgb(image, source)
    if has_transparency(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB") if image.mode != "RGB" else image


def load_rgb(path: PathLikeStr) -> Image.Image:
    """``path`` decoded completely by :func:`to_rgb`, EXIF orientation applied; PIL's errors for bad files."""
    with open_image(path) as opened:
        opened.load()  # decode now: a truncated file must fail here, not later in a transform
        image = ImageOps.exif_transpose(opened)
    return to_rgb(image, path)


class ImageList:
    """Images of a dataset, read by index; a file that cannot be decoded is warned about once (per worker)."""

    def __init__(
        self, paths: Sequence[Path], transform: Callable | None = None, *, description: str = "images"
    ) -> None:
        if not paths:
            raise ValueError(f"No {description} given: expected at least one image file.")
        self.paths = list(paths)
        self.transform = transform
        self.description = description
        self.bad: dict[Path, str] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int):
        """The transformed image at ``index``; :class:`UnreadableImageError` if it cannot be decoded."""
        path = self.paths[index]
        if path in self.bad:
            raise UnreadableImageError(f"{path}: {self.bad[path]}")
        try:
            image = load_rgb(path)
        except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for bad files
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            self.bad[path] = reason
            message = f"Skipping unreadable image {path} ({reason}); delete or re-download it to silence this."
            warnings.warn(message, UnreadableImageWarning, stacklevel=2)
            raise UnreadableImageError(f"{path}: {reason}") from error
        return self.transform(image) if self.transform is not None else image

    def first_readable(self, start: int, read: Callable[[int], object] | None = None):
        """``read(i)`` (default :meth:`read`; or one of aligned files, skipped together) of the first ``i`` from
        ``start`` on, wrapping around, that decodes."""
        read = read or self.read
        n = len(self.paths)
        for offset in range(n):
            try:
                return read((start + offset) % n)
            except UnreadableImageError:
                continue
        examples = "; ".join(f"{path}: {reason}" for path, reason in list(self.bad.items())[:3])
        raise RuntimeError(f"None of the {n} {self.description} could be decoded (e.g. {examples}); are they images?")
