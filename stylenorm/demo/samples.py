"""Sample images to try the page without a photo of one's own: the colour photographs bundled in
the scikit-image wheel (the embedded datasets' source, :mod:`stylenorm.data.sources`), so nothing is
downloaded or committed."""

from __future__ import annotations

from pathlib import Path

from stylenorm.data.sources import skimage_data_dir

#: Shown name -> file in ``skimage/data``; a portrait, a cat, a cup, a street scene: different light.
SAMPLES = {
    "astronaut (512x512)": "astronaut.png",
    "cat (451x300)": "chelsea.png",
    "coffee (600x400)": "coffee.png",
    "rocket (640x427)": "rocket.jpg",
}


def sample_path(name: str) -> Path:
    """The file of the sample called ``name`` (a key of :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise ValueError(f"No sample image called {name!r}; the samples are {', '.join(SAMPLES)}.")
    return skimage_data_dir() / SAMPLES[name]
