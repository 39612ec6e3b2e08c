"""Stylize and translate images with a checkpoint: this project's ``.ckpt`` files and the public pretrained files
people already have (fast-neural-style ``.pth``, CycleGAN generators, AdaIN's decoder).

:func:`load_stylizer` -> :class:`Stylizer`; :func:`stylize` one image, :func:`stylize_batch` tensors, with one
:class:`InferenceOptions` (or its fields as keywords); :func:`export_onnx`, :func:`export_torchscript`. The
commands ``stylenorm-stylize`` and ``stylenorm-export`` are thin layers over these. Examples: docs/stylize.md;
the file layouts: docs/public_checkpoints.md.
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
