"""Stylize and translate images with a checkpoint: this project's ``.ckpt`` files and the public
pretrained files people already have (fast-neural-style ``.pth``, CycleGAN generators).

::

    from stylenorm.inference import load_stylizer, stylize

    model = load_stylizer("mosaic.pth")      # or last.ckpt (direction="BtoA" for CycleGAN's G_BA)
    stylize("photo.jpg", model).save("photo_mosaic.png")

    # AdaIN (model=adain checkpoints; or "decoder.pth" with encoder="vgg_normalised.pth"):
    model = load_stylizer("adain.ckpt", style_images=["a.jpg", "b.jpg"], style_weights=[0.7, 0.3], alpha=0.8)

* :func:`load_stylizer` -> :class:`Stylizer` (network, pixel convention, size multiple, device)
* :func:`stylize` one image (path, PIL image or tensor) -> PIL image; :func:`stylize_batch` for
  ``(N, 3, H, W)`` tensors (uint8 in -> uint8 out, float [0, 1] in -> float out)
* :class:`InferenceOptions`: precision, tiling, resizing, batches and clip statistics in one object
  (``stylize(image, model, options)``), or its fields as keywords (``stylize(image, model, tile=1024)``)
* :func:`export_onnx`, :func:`export_torchscript`: [0, 1] in, [0, 1] out, dynamic size

The commands ``scripts/stylize.py`` / ``stylenorm-stylize`` (:mod:`stylenorm.inference.cli`) and
``scripts/export.py`` / ``stylenorm-export`` (:mod:`stylenorm.inference.export_cli`) are thin
layers over these functions.
"""

from stylenorm.inference.conventions import SIGNED, UNIT, ZERO_TO_255, PixelConvention
from stylenorm.inference.export import ExportModule, export_onnx, export_torchscript, run_exported, verify_export
from stylenorm.inference.image_io import read_image, save_image
from stylenorm.inference.jobs import Job, plan_jobs
from stylenorm.inference.loading import DIRECTIONS, FORMATS, load_stylizer, read_checkpoint
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import PreparedImage, prepare, resized_size, stylize, stylize_batch
from stylenorm.inference.stylizer import PRECISIONS, Stylizer
from stylenorm.inference.tiling import DEFAULT_AUTO_TILE_PIXELS, run_tiled

__all__ = [
    "DEFAULT_AUTO_TILE_PIXELS",
    "DIRECTIONS",
    "FORMATS",
    "PRECISIONS",
    "SIGNED",
    "UNIT",
    "ZERO_TO_255",
    "ExportModule",
    "InferenceOptions",
    "Job",
    "PixelConvention",
    "PreparedImage",
    "Stylizer",
    "export_onnx",
    "export_torchscript",
    "load_stylizer",
    "plan_jobs",
    "prepare",
    "read_checkpoint",
    "read_image",
    "resized_size",
    "run_exported",
    "run_tiled",
    "save_image",
    "stylize",
    "stylize_batch",
    "verify_export",
]
