"""Datasets, datamodules and the embedded default data.

Every dataset yields dicts of float tensors ``(3, H, W)`` in [0, 1]. Folder layouts expected:

:class:`UnpairedDataModule` (``data=unpaired``; CycleGAN)::

    root/trainA/        domain A training images (required)
    root/trainB/        domain B training images (required)
    root/testA/         domain A validation images (optional; else a few trainA images)
    root/testB/         domain B validation images (optional; else a few trainB images)
    root/testA_truth/   optional: the true B-domain version of each testA image, same file names

  i.e. the layout of the original CycleGAN datasets (horse2zebra, monet2photo, ...).

:class:`StyleDataModule` (``data=content_style``; fast style transfer)::

    root/**/*.jpg       content photos, any depth (e.g. COCO train2014/)
    val_root/**/*.jpg   optional validation photos (else a held-out few of root)
    style_image         one painting, any size

:class:`ContentStylesDataModule` (``data=content_styles``; AdaIN)::

    root/**/*.jpg       content photos, any depth (e.g. COCO train2014/)
    style_root/**/*.jpg style paintings, any depth (e.g. WikiArt), or data.style_images=[...]
    style_val_root/     optional validation paintings never trained on (else a few of the training ones)

:class:`ImageFolderDataModule` (``data=image_folder``; autoencoder)::

    root/**/*.png       training images, any depth
    val_root/**/*.png   optional validation images (else a held-out few of root)

Image files: .png .jpg .jpeg .bmp .webp .tif .tiff (any case); unreadable ones are skipped with a
warning naming them. The ``embedded_*`` configs generate their data on first use with
:func:`materialize_embedded` (no download).

Known-answer tasks (``data.known_answer``: ``colour_grade`` | ``exposure``) are defined in
:mod:`stylenorm.data.known_answer`; CycleGAN gets them as embedded datasets, the autoencoder as
``{"image": input, "target": answer}`` batches.
"""

from stylenorm.data.between_tasks import known_answer_pair
from stylenorm.data.datasets import ImageFolderDataset, KnownAnswerDataset, UnpairedDataset, UnpairedValidationDataset
from stylenorm.data.embedded import CYCLEGAN_KNOWN_ANSWERS, EMBEDDED_NAMES, materialize_embedded
from stylenorm.data.images import (
    IMAGE_EXTENSIONS,
    ImageList,
    UnreadableImageError,
    UnreadableImageWarning,
    list_images,
    load_rgb,
)
from stylenorm.data.known_answer import (
    KNOWN_ANSWERS,
    colour_grade,
    exposure_answer,
    known_answer_transform,
    random_exposure,
)
from stylenorm.data.transforms import eval_transform, to_float_tensor, train_transform, unpaired_train_transform

__all__ = [
    "CYCLEGAN_KNOWN_ANSWERS",
    "EMBEDDED_NAMES",
    "IMAGE_EXTENSIONS",
    "KNOWN_ANSWERS",
    "ContentStylesDataModule",
    "ImageFolderDataModule",
    "ImageFolderDataset",
    "ImageList",
    "KnownAnswerDataset",
    "StyleDataModule",
    "UnpairedDataModule",
    "UnpairedDataset",
    "UnpairedValidationDataset",
    "UnreadableImageError",
    "UnreadableImageWarning",
    "colour_grade",
    "eval_transform",
    "exposure_answer",
    "hold_out",
    "known_answer_pair",
    "known_answer_transform",
    "list_images",
    "load_rgb",
    "materialize_embedded",
    "random_exposure",
    "spread",
    "to_float_tensor",
    "train_transform",
    "unpaired_train_transform",
]

#: Names of :mod:`stylenorm.data.datamodules`, imported on first use: the datamodules need Lightning,
#: whose import costs seconds that the stylize, export and demo commands (which read images through
#: this package) never need.
_DATAMODULE_NAMES = (
    "ContentStylesDataModule",
    "ImageFolderDataModule",
    "StyleDataModule",
    "UnpairedDataModule",
    "hold_out",
    "spread",
)


def __getattr__(name: str):
    if name in _DATAMODULE_NAMES:
        from stylenorm.data import datamodules

        return getattr(datamodules, name)
    raise AttributeError(f"module 'stylenorm.data' has no attribute {name!r}")
