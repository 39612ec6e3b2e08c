"""Stylize images with this project's ``.ckpt`` files or public pretrained ones: :func:`load_stylizer` ->
:class:`Stylizer`, then :func:`stylize` (one image) or :func:`stylize_batch` (tensors) with one
:class:`InferenceOptions`; :func:`export_onnx`, :func:`export_torchscript`. Examples: docs/stylize.md.
"""

from stylenorm.inference.export import ExportModule, export_onnx, export_torchscript, run_exported, verify_export
from stylenorm.inference.image_io import read_image, save_image
from stylenorm.inference.jobs import Job, plan_jobs
from stylenorm.inference.loading import DIRECTIONS, FORMATS, load_stylizer, read_checkpoint
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import PreparedImage, prepare, resized_size, stylize, stylize_batch
from stylenorm.inference.stylizer import PRECISIONS, SIGNED, UNIT, ZERO_TO_255, PixelConvention, Stylizer
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
