"""Datasets, datamodules (one per data config) and the embedded default data; every dataset yields dicts of float
tensors ``(3, H, W)`` in [0, 1]. Layouts: docs/training.md, "Data".
"""

from stylenorm.data.datasets import ImageFolderDataset, UnpairedDataset
from stylenorm.data.embedded import EMBEDDED_NAMES, materialize_embedded
from stylenorm.data.images import UnreadableImageWarning, list_images, load_rgb
from stylenorm.data.known_answer import (
    KNOWN_ANSWERS,
    colour_grade,
    exposure_answer,
    known_answer_transform,
    random_exposure,
)
from stylenorm.data.transforms import eval_transform, to_float_tensor, unpaired_train_transform

__all__ = [
    "EMBEDDED_NAMES",
    "KNOWN_ANSWERS",
    "ContentStylesDataModule",
    "ImageFolderDataModule",
    "ImageFolderDataset",
    "StyleDataModule",
    "UnpairedDataModule",
    "UnpairedDataset",
    "UnreadableImageWarning",
    "colour_grade",
    "eval_transform",
    "exposure_answer",
    "hold_out",
    "known_answer_transform",
    "list_images",
    "load_rgb",
    "materialize_embedded",
    "random_exposure",
    "spread",
    "to_float_tensor",
    "unpaired_train_transform",
]


def __getattr__(name: str):
    # only names __all__ lists but this module has not imported: the datamodules, imported on first use because
    # they need Lightning, whose import would slow the stylize command
    if name in __all__:
        from stylenorm.data import datamodules

        return getattr(datamodules, name)
    raise AttributeError(f"module 'stylenorm.data' has no attribute {name!r}")
