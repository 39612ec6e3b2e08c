"""Where two results differ: a difference map between any two images of a comparison.

Per pixel, the mean absolute difference over the three channels in gray levels (0-255), drawn with
matplotlib's ``magma`` colour map from black (no difference) to pale yellow (``scale`` gray levels or
more). The scale is the 99th percentile of the differences (at least 1), so a few outlying pixels do
not wash the map out; the caption states it with the mean and the largest difference.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from matplotlib import colormaps
from PIL import Image

from stylenorm.demo.inputs import DemoError


@dataclasses.dataclass
class Difference:
    """The map and the numbers its caption gives."""

    image: Image.Image
    mean: float  # gray levels, over pixels and channels
    largest: float
    scale: float  # the difference drawn at full colour

    def caption(self, first: str, second: str) -> str:
        return (
            f"|{first} - {second}|: mean {self.mean:.2f}, largest {self.largest:.0f} gray levels; "
            f"black = 0, pale yellow = {self.scale:.0f} or more"
        )


def difference_map(first: Image.Image, second: Image.Image) -> Difference:
    """The difference map of two images of the same size (:class:`DemoError` when the sizes differ)."""
    if first.size != second.size:
        raise DemoError(
            f"The two images differ in size ({first.width}x{first.height} and {second.width}x{second.height} px): "
            f"pick two results of the same comparison."
        )
    a = np.asarray(first.convert("RGB"), dtype=np.float32)
    b = np.asarray(second.convert("RGB"), dtype=np.float32)
    per_pixel = np.abs(a - b).mean(axis=2)
    scale = max(1.0, float(np.percentile(per_pixel, 99)))
    colours = colormaps["magma"](np.clip(per_pixel / scale, 0, 1))[..., :3]
    image = Image.fromarray((colours * 255).round().astype(np.uint8))
    return Difference(image, float(np.abs(a - b).mean()), float(per_pixel.max()), scale)
