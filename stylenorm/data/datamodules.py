"""LightningDataModules of the tasks, dataclasses of their options (``configs/data/*.yaml``), sharing one set of
common options and loaders (:class:`_ImageDataModule`). Layouts: docs/training.md, "Data"; loaders: docs/modules.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from PIL import ImageOps
from torch.utils.data import DataLoader, Dataset

import stylenorm.data.transforms as transforms
from stylenorm.data.datasets import ImageFolderDataset, KnownAnswerDataset, UnpairedDataset, UnpairedValidationDataset
from stylenorm.data.embedded import CYCLEGAN_KNOWN_ANSWERS, embedded_style_images, materialize_embedded
from stylenorm.data.images import list_images, load_rgb
from stylenorm.data.known_answer import KNOWN_ANSWERS, check_alpha, check_known_answer
from stylenorm.data.resumable import ResumableDataLoader

log = logging.getLogger(__name__)

_CYCLEGAN_LAYOUT = (
    "expected trainA/ and trainB/ (testA/, testB/, testA_truth/ optional), the layout of the CycleGAN "
    "datasets (horse2zebra etc.). Set data.root to that folder."
)


def spread(paths: Sequence[Path], count: int | None) -> list[Path]:
    """At most ``count`` of ``paths``, evenly spaced (deterministic; ``None`` keeps all)."""
    if count is not None and count <= 0:
        raise ValueError(f"data.max_val_images must be positive or null, got {count}.")
    if count is None or count >= len(paths):
        return list(paths)
    return [paths[int(i)] for i in np.linspace(0, len(paths) - 1, count).round()]


def hold_out(paths: Sequence[Path], max_count: int | None, seed: int) -> tuple[list[Path], list[Path]]:
    """``(train, val)``: a seeded choice of at most ``max_count`` and at most a tenth of the images for val."""
    if len(paths) < 2:
        raise ValueError(f"Found {len(paths)} image(s); holding out validation needs at least 2 (or data.val_root).")
    count = min(max(1, len(paths) // 10), len(paths) if max_count is None else max_count)
    chosen = set(np.random.default_rng(seed).permutation(len(paths))[:count].tolist())
    return [p for i, p in enumerate(paths) if i not in chosen], [p for i, p in enumerate(paths) if i in chosen]


@dataclass(eq=False)
class _ImageDataModule(LightningDataModule):
    """The options every datamodule has, embedded data and the loaders; subclasses' ``_build_datasets`` fill them."""

    root: Path
    _: KW_ONLY
    image_size: int
    batch_size: int
    num_workers: int = 0
    embedded: str | None = None
    embedded_root: Path | None = None  # None: root
    max_val_images: int | None = 8
    seed: int = 0

    known_answer = None  # the known-answer task of the data; an option of the subclasses that support one

    def __post_init__(self) -> None:
        super().__init__()
        if self.image_size < 1 or self.batch_size < 1:
            raise ValueError(f"data.image_size, data.batch_size must be > 0, got {self.image_size}, {self.batch_size}.")
        check_known_answer(self.known_answer)
        self.root = Path(self.root)
        self.embedded_root = Path(self.embedded_root) if self.embedded_root is not None else self.root
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    def prepare_data(self) -> None:
        if self.embedded:
            materialize_embedded(self.embedded, self.embedded_root)

    def setup(self, stage: str | None = None) -> None:
        self.prepare_data()  # no-op when present; lets dm.setup() work without a Trainer
        self.train_set, self.val_set = self._build_datasets()

    def _content_split(self, val_root: Path | None, what: str) -> tuple[list[Path], list[Path]]:
        """``(train, val)`` images of ``root``: val from ``val_root``, else a seeded few held out of ``root``."""
        images = list_images(self.root, hint=f"Set data.root to a folder of {what} (searched recursively).")
        if val_root is not None:
            hint = f"Set data.val_root to a folder of {what} (searched recursively)."
            return images, spread(list_images(val_root, hint=hint), self.max_val_images)
        train, val = hold_out(images, self.max_val_images, self.seed)
        log.info("data.val_root is null: holding out %d of the %d images in %s.", len(val), len(images), self.root)
        return train, val

    def _loader(self, dataset: Dataset | None, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() must run before its dataloaders are requested.")
        workers = {"num_workers": self.num_workers, "persistent_workers": self.num_workers > 0}
        workers["pin_memory"] = torch.cuda.is_available()
        if not train:  # its own generator: a validation never draws from the run's random stream
            size = min(self.batch_size, len(dataset))
            return DataLoader(dataset, batch_size=size, generator=torch.Generator(), **workers)
        replicas, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer is not None else (1, 0)
        return ResumableDataLoader(
            dataset,
            batch_size=self.batch_size,
            seed=int(os.environ.get("PL_GLOBAL_SEED", 0)),  # the run's, as seed_everything publishes it
            drop_last=-(-len(dataset) // replicas) > self.batch_size,  # per process: each gets ceil(n / replicas)
            num_replicas=replicas,
            rank=rank,
            **workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)


@dataclass(eq=False)
class UnpairedDataModule(_ImageDataModule):
    """Two unpaired domains for CycleGAN (Zhu et al. 2017) in its datasets' layout (docs/training.md, "Data")."""

    _: KW_ONLY
    image_size: int = 256
    batch_size: int = 1
    load_size: int = 286
    flip: bool = True
    known_answer: str | None = None
    eval_split: str = "test"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eval_split not in ("test", "val"):
            raise ValueError(f"eval_split={self.eval_split!r}: expected test or val (held-out training images).")
        if self.embedded and CYCLEGAN_KNOWN_ANSWERS.get(self.embedded, "") != self.known_answer:
            datasets = ", ".join(f"{name} ({task})" for name, task in CYCLEGAN_KNOWN_ANSWERS.items())
            raise ValueError(
                f"data.embedded={self.embedded!r} with data.known_answer={self.known_answer!r}: the embedded CycleGAN "
                f"datasets are {datasets}; set data.known_answer to one of {', '.join(KNOWN_ANSWERS)} instead."
            )
        transforms.unpaired_train_transform(self.image_size, self.load_size, self.flip)  # fail now on a bad size pair

    def _validation_images(self, domain: str, train_images: list[Path]) -> list[Path]:
        folder = self.root / f"{self.eval_split}{domain}"
        if folder.is_dir():
            return spread(list_images(folder, hint=_CYCLEGAN_LAYOUT), self.max_val_images)
        if self.eval_split == "val":  # tuning on training images would tune for memorising them
            raise FileNotFoundError(f"eval_split=val but {folder} is not there: add valA/, valB/ or eval_split=test.")
        fallback = spread(train_images, self.max_val_images or 8)
        log.info("%s not found: validating on %d of the train%s images instead.", folder, len(fallback), domain)
        return fallback

    def _truth_images(self, images_a: list[Path]) -> list[Path] | None:
        folder, folder_a = self.root / f"{self.eval_split}A_truth", self.root / f"{self.eval_split}A"
        if not (folder.is_dir() and folder_a.is_dir()):
            return None
        by_name = {p.relative_to(folder).with_suffix("").as_posix(): p for p in list_images(folder)}
        keys = [path.relative_to(folder_a).with_suffix("").as_posix() for path in images_a]
        missing = [path for path, key in zip(images_a, keys, strict=True) if key not in by_name]
        if missing:
            raise FileNotFoundError(
                f"{folder} has no ground truth for {len(missing)} {folder_a.name} image(s), e.g. {missing[0].name}: "
                f"add one per image (same file name), or remove {folder}."
            )
        return [by_name[key] for key in keys]

    def _build_datasets(self) -> tuple[Dataset, Dataset]:
        train_a, train_b = (list_images(self.root / f"train{domain}", hint=_CYCLEGAN_LAYOUT) for domain in "AB")
        transform = transforms.unpaired_train_transform(self.image_size, self.load_size, self.flip)
        train = UnpairedDataset(train_a, train_b, transform)
        val_a, val_b = self._validation_images("A", train_a), self._validation_images("B", train_b)
        truth = self._truth_images(val_a)
        if self.known_answer is not None and truth is None:
            raise FileNotFoundError(
                f"data.known_answer={self.known_answer!r} needs {self.root / self.eval_split}A/ and "
                f"{self.eval_split}A_truth/, or data.known_answer=null."
            )
        return train, UnpairedValidationDataset(val_a, val_b, transforms.eval_transform(self.image_size), truth=truth)


@dataclass(eq=False)
class ImageFolderDataModule(_ImageDataModule):
    """One folder of images (searched recursively) as ``{key: image}`` batches, each posed ``known_answer`` if set."""

    _: KW_ONLY
    image_size: int = 128
    batch_size: int = 16
    val_root: Path | None = None
    random_crop: bool = True
    flip: bool = True
    known_answer: str | None = None
    mixture_alpha: float = 0.5

    key = "image"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.mixture_alpha = check_alpha(self.mixture_alpha)

    def _build_datasets(self) -> tuple[Dataset, Dataset]:
        train_images, val_images = self._content_split(self.val_root, "images")
        transform = transforms.train_transform(self.image_size, self.random_crop, self.flip)
        train = ImageFolderDataset(train_images, transform, key=self.key)
        val = ImageFolderDataset(val_images, transforms.eval_transform(self.image_size), key=self.key)
        if self.known_answer is None:
            return train, val
        return (
            KnownAnswerDataset(train, self.known_answer, mixture_alpha=self.mixture_alpha),
            KnownAnswerDataset(val, self.known_answer, self.seed, mixture_alpha=self.mixture_alpha),
        )


@dataclass(eq=False)
class StyleDataModule(ImageFolderDataModule):
    """Content photos (``{"content": image}`` batches) and the style image(s) of fast style transfer, defaults as
    the PyTorch example's; several styles (Dumoulin et al. 2017) in ``style_images`` order, or the embedded ones."""

    style_image: Path | None = None
    style_size: int | None = None
    _: KW_ONLY
    style_images: Sequence[str | os.PathLike] | None = None
    num_styles: int | None = None
    image_size: int = 256
    batch_size: int = 4
    random_crop: bool = False
    flip: bool = False

    key = "content"

    def __post_init__(self) -> None:
        if self.known_answer is not None:
            raise ValueError(f"data.known_answer={self.known_answer!r}: style transfer has no known answer; drop it.")
        super().__post_init__()
        self._style_key = "data.style_images" if self.style_images is not None else "data.style_image"
        self.style_images = self._style_paths()
        self.style_image = self.style_images[0]
        if not self.embedded:  # a user's file, checked now: a bad style image stops the run before it starts
            _check_styles(self.style_images, self._style_key)

    def _style_paths(self) -> list[Path]:
        if self.style_images is not None:
            paths = _paths(self.style_images)
            if not paths or len(set(paths)) != len(paths):
                raise ValueError(f"data.style_images={[str(p) for p in paths]}: list each painting once.")
            if self.num_styles not in (None, len(paths)):
                count = f"data.num_styles={self.num_styles} but data.style_images lists {len(paths)}"
                raise ValueError(f"{count}; drop num_styles.")
            return paths
        if self.num_styles not in (None, 1):
            if self.embedded != "style":
                raise ValueError(
                    f"data.num_styles={self.num_styles} is for data=embedded_style; list your own: "
                    f"data.style_images=[a.jpg,b.jpg,...]."
                )
            return embedded_style_images(self.embedded_root, self.num_styles)
        if self.style_image is None:
            raise ValueError("No style image: set data.style_image=FILE, or data.style_images=[a.jpg,b.jpg,...].")
        return [Path(self.style_image)]

    def style_image_tensor(self) -> torch.Tensor:
        """The (first) style image as a float tensor (1, 3, h, w) in [0, 1]."""
        return self.style_image_tensors()[0]

    def style_image_tensors(self) -> list[torch.Tensor]:
        """Every style image, in style-index order, as float tensors (1, 3, h, w) in [0, 1]."""
        tensors = []
        for path in _check_styles(self.style_images, self._style_key):  # again: embedded ones exist once set up
            image = load_rgb(path)
            if self.style_size is not None:  # longer side to style_size, bicubic
                image = ImageOps.contain(image, (self.style_size, self.style_size))
            tensors.append(transforms.to_float_tensor()(image).unsqueeze(0))
        return tensors


@dataclass(eq=False)
class ContentStylesDataModule(_ImageDataModule):
    """``{"content", "style"}`` batches drawn independently, for AdaIN (Huang & Belongie 2017, Sec. 6.1)."""

    style_root: Path | None = None
    _: KW_ONLY
    style_images: Sequence[str | os.PathLike] | None = None
    style_val_root: Path | None = None
    style_val_images: Sequence[str | os.PathLike] | None = None
    val_root: Path | None = None
    image_size: int = 256
    batch_size: int = 8
    load_size: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embedded not in (None, "style"):
            raise ValueError(f"data.embedded={self.embedded!r}: AdaIN trains on the embedded 'style' data.")
        if not self.embedded and (self.style_root is None) == (self.style_images is None):
            raise ValueError("AdaIN needs styles: set exactly one of data.style_root=DIR and data.style_images=[...].")
        if self.style_val_root is not None and self.style_val_images is not None:
            raise ValueError("Set at most one of data.style_val_root=DIR and data.style_val_images=[...].")
        self.style_images = _paths(self.style_images)
        self.style_val_images = _paths(self.style_val_images)
        transforms.adain_train_transform(self.image_size, self.load_size)  # fail now on a bad size pair

    def _build_datasets(self) -> tuple[Dataset, Dataset]:
        content, val_content = self._content_split(self.val_root, "content photos")
        styles = _styles(self.style_images, self.style_root, "style") or embedded_style_images(self.embedded_root)
        val_styles = _styles(self.style_val_images, self.style_val_root, "style_val") or styles
        transform, keys = transforms.adain_train_transform(self.image_size, self.load_size), ("content", "style")
        val_styles = spread(val_styles, self.max_val_images)
        val = UnpairedValidationDataset(val_content, val_styles, transforms.eval_transform(self.image_size), keys=keys)
        return UnpairedDataset(content, styles, transform, keys=keys), val


def _paths(images: Sequence[str | os.PathLike] | None) -> list[Path] | None:
    if images is None:
        return None
    return [Path(images)] if isinstance(images, (str, os.PathLike)) else [Path(p) for p in images]


def _styles(images: list[Path] | None, root: Path | None, key: str) -> list[Path] | None:
    """The paintings ``data.<key>_images`` lists, else those under ``data.<key>_root``, else None."""
    if images is not None:
        return _check_styles(images, f"data.{key}_images")
    return list_images(root, hint=f"Set data.{key}_root to a folder of paintings.") if root is not None else None


def _check_styles(paths: list[Path], key: str) -> list[Path]:
    """``paths`` if each is a readable painting; else an error naming it and the config ``key`` that listed it."""
    if not paths:
        raise ValueError(f"{key} is empty: list at least one painting.")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"Style image {path} not found. Set {key} to a painting.")
        try:
            load_rgb(path)
        except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for bad files
            message = f"Style image {path} cannot be read as an image ({type(error).__name__}: {error})."
            raise ValueError(f"{message} Point {key} at .jpg/.png paintings.") from None
    return paths
