"""Image transforms of the training recipes (``torchvision.transforms.v2``): PIL RGB image in, float (3, H, W) in [0, 1]
out. CycleGAN (Zhu et al. 2017), PyTorch's fast_neural_style (Johnson et al. 2016), AdaIN (Huang & Belongie 2017,
Sec. 6.1): docs/modules.md. Validation has no randomness.
"""

from __future__ import annotations

import torch
from torchvision.transforms import InterpolationMode, v2


def to_float_tensor() -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def _compose(size: int | list[int], crop: v2.Transform, flip: bool = False) -> v2.Compose:
    """Resize to ``size`` (bicubic, antialiased), ``crop``, an optional random flip, then float."""
    resize = v2.Resize(size, interpolation=InterpolationMode.BICUBIC, antialias=True)
    return v2.Compose([resize, crop, *([v2.RandomHorizontalFlip()] if flip else []), to_float_tensor()])


def _check_load_size(image_size: int, load_size: int, example: str) -> None:
    if load_size < image_size:
        crop = f"the random crop is taken from the resized image, so load_size must be >= image_size ({example})"
        raise ValueError(f"data.load_size={load_size} is smaller than data.image_size={image_size}: {crop}.")


def unpaired_train_transform(image_size: int, load_size: int, flip: bool = True) -> v2.Compose:
    """CycleGAN's ``resize_and_crop``: square resize to ``load_size``, random crop, random flip."""
    _check_load_size(image_size, load_size, "CycleGAN: 286 for 256")
    return _compose([load_size, load_size], v2.RandomCrop(image_size), flip)


def train_transform(image_size: int, random_crop: bool = False, flip: bool = False) -> v2.Compose:
    """Shorter side to ``image_size``, then a centre or random square crop, optional random flip."""
    crop = v2.RandomCrop(image_size) if random_crop else v2.CenterCrop(image_size)
    return _compose(image_size, crop, flip)


def adain_train_transform(image_size: int, load_size: int) -> v2.Compose:
    """Shorter side to ``load_size``, random ``image_size`` crop: AdaIN's recipe for content and style."""
    _check_load_size(image_size, load_size, "AdaIN: 512 for 256")
    return _compose(load_size, v2.RandomCrop(image_size))


def eval_transform(image_size: int) -> v2.Compose:
    """Deterministic: shorter side to ``image_size``, centre crop ``image_size x image_size``."""
    return _compose(image_size, v2.CenterCrop(image_size))
