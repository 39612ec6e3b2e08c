"""Map-style datasets of dicts of float tensors ``(3, H, W)`` in [0, 1], undecodable files skipped with one warning
each (:class:`~stylenorm.data.images.ImageList`). Layouts: docs/training.md, "Data".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from stylenorm.data.images import ImageList, PathLikeStr, list_images
from stylenorm.data.known_answer import check_alpha, check_known_answer, known_answer_pair, stable_seed
from stylenorm.data.transforms import to_float_tensor

Images = PathLikeStr | Sequence[PathLikeStr]


def _image_list(images: Images, transform: Callable | None, what: str) -> ImageList:
    """An :class:`ImageList` of a folder (listed recursively) or of a list of files, described by their folder."""
    paths = list_images(images) if isinstance(images, (str, os.PathLike)) else [Path(path) for path in images]
    with contextlib.suppress(ValueError):  # no paths, or absolute and relative ones mixed
        what = f"{what} under {os.path.commonpath([path.parent for path in paths])}"
    return ImageList(paths, transform or to_float_tensor(), description=what)


class ImageFolderDataset(Dataset):
    """Every image of a folder (or a list of files), as ``{key: tensor}``."""

    def __init__(self, images: Images, transform: Callable | None = None, key: str = "image") -> None:
        self.images = _image_list(images, transform, "images")
        self.key = key

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {self.key: self.images.first_readable(index)}


class UnpairedDataset(Dataset):
    """Two unaligned image sets (CycleGAN's A, B; AdaIN's content, style): item ``i`` = A[i % nA] and a random B."""

    what = ""  # how the two sets are described in messages, before their keys

    def __init__(
        self, root_a: Images, root_b: Images, transform: Callable | None = None, keys: tuple[str, str] = ("A", "B")
    ) -> None:
        self.a = _image_list(root_a, transform, f"{self.what}{keys[0]} images")
        self.b = _image_list(root_b, transform, f"{self.what}{keys[1]} images")
        self.keys = keys

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        # torch's generator: the training loader seeds it per sample from (seed, epoch, index)
        b_index = int(torch.randint(len(self.b), ()).item())
        return {self.keys[0]: self.a.first_readable(index % len(self.a)), self.keys[1]: self.b.first_readable(b_index)}


class UnpairedValidationDataset(UnpairedDataset):
    """Fixed pairs: item ``i`` = A[i], B[i % nB] and, with ``truth`` (one per A image), ``A_truth``[i] (skipped
    together with its A image when unreadable, so the two never misalign)."""

    what = "validation "

    def __init__(
        self,
        images_a: Sequence[PathLikeStr],
        images_b: Sequence[PathLikeStr],
        transform: Callable | None = None,
        truth: Sequence[PathLikeStr] | None = None,
        keys: tuple[str, str] = ("A", "B"),
    ) -> None:
        super().__init__(images_a, images_b, transform, keys)
        if truth is not None and len(truth) != len(images_a):
            raise ValueError(f"Got {len(truth)} ground-truth images for {len(images_a)} A images; expected one each.")
        self.truth = _image_list(truth, transform, "ground-truth images") if truth is not None else None

    def __len__(self) -> int:
        return len(self.a)

    def _read_a(self, index: int) -> dict[str, torch.Tensor]:
        item = {self.keys[0]: self.a.read(index)}
        if self.truth is not None:
            item["A_truth"] = self.truth.read(index)
        return item

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.a.first_readable(index, self._read_a)
        item[self.keys[1]] = self.b.first_readable(index % len(self.b))
        return item


class KnownAnswerDataset(Dataset):
    """``images`` as ``{key: input, "target": answer}`` of ``known_answer``; item ``i``'s nuisance drawn afresh on
    each access (training: the loader seeds torch's generator per sample), or from ``(fixed_seed, i)`` (validation)."""

    def __init__(
        self, images: ImageFolderDataset, known_answer: str, fixed_seed: int | None = None, mixture_alpha: float = 0.5
    ) -> None:
        if check_known_answer(known_answer) is None:
            raise ValueError("KnownAnswerDataset needs a known_answer; use the ImageFolderDataset itself for none.")
        self.source, self.key, self.known_answer = images, images.key, known_answer
        self.fixed_seed = fixed_seed
        self.mixture_alpha = check_alpha(mixture_alpha)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image = self.source[index][self.key]
        generator = None
        if self.fixed_seed is not None:
            generator = torch.Generator().manual_seed(stable_seed("validation nuisance", self.fixed_seed, index))
        model_input, target = known_answer_pair(self.known_answer, image, generator, self.mixture_alpha)
        return {self.key: model_input, "target": target}
