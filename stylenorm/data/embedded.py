"""Embedded default datasets: :func:`materialize_embedded` writes the tiles and paintings of
:mod:`stylenorm.data.sources` as byte-identical PNGs on first use, split by photo. Folders and split: docs/modules.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import stylenorm.data.sources as sources
from stylenorm.data.known_answer import colour_grade, exposure_answer, random_exposure, stable_seed
from stylenorm.data.known_answer import known_answer_transform as known_answer_transform  # older code's name of f
from stylenorm.data.sources import TILE_SIZE, Tile

log = logging.getLogger(__name__)

#: Bump when the generated content changes: roots with another version are regenerated (4: split by photo).
FORMAT_VERSION = 4
EMBEDDED_NAMES = ("cyclegan", "cyclegan_exposure", "style", "autoencoder")
#: The embedded CycleGAN datasets and the known-answer task each poses (``data.known_answer``).
CYCLEGAN_KNOWN_ANSWERS = {"cyclegan": "colour_grade", "cyclegan_exposure": "exposure"}
MANIFEST = "MANIFEST.json"
#: The paintings of the ``style`` dataset in style-index order: mosaic (the one-style default), bands, stripes.
EMBEDDED_STYLE_FILES = ("style.png", "style_1.png", "style_2.png")
_STYLE_PAINTERS = (sources.mosaic_style_image, sources.swirl_style_image, sources.stripes_style_image)

_SPLIT_SEED = 2017  # one permutation of the tiles per dataset, fixed forever (changing it = new FORMAT_VERSION)
_EXPOSURE_SEED = "cyclegan_exposure"  # with the tile name: the seed of each tile's nuisance, fixed forever
#: Photos whose tiles are test images only (82 tiles, enough to bootstrap over), never trained or tuned on.
TEST_PHOTOS = ("chelsea.png", "coffee.png")
#: Tiles of the training photos held out for tuning (learning rates): the ``val`` split.
VAL_TILES = 64
SPLITS = ("train", "val", "test")


def _map_tiles(function: Callable[[torch.Tensor], torch.Tensor], tiles: Sequence[Tile]) -> list[np.ndarray]:
    """``function`` of the tiles as one float64 stack in [0, 1] (8-bit rounding ties stay rare), as uint8."""
    images = torch.from_numpy(np.stack([tile.pixels for tile in tiles])).permute(0, 3, 1, 2).double() / 255.0
    return list((function(images) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())


def _exposure_inputs(tiles: Sequence[Tile]) -> list[np.ndarray]:
    """e of each tile, its nuisance drawn from a generator seeded by the tile's name."""
    generators = [torch.Generator().manual_seed(stable_seed(_EXPOSURE_SEED, tile.name)) for tile in tiles]
    return _map_tiles(
        lambda images: torch.stack([random_exposure(x, g) for x, g in zip(images, generators, strict=True)]), tiles
    )


def _write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(pixels), mode="RGB").save(path, format="PNG", compress_level=6)


def _write_tiles(folder: Path, tiles: Sequence[Tile], pixels: Sequence[np.ndarray] | None = None) -> None:
    for index, tile in enumerate(tiles):
        _write_png(folder / f"{tile.name}.png", tile.pixels if pixels is None else pixels[index])


def photo_split() -> dict[str, list[Tile]]:
    """``{"train", "val", "test"}`` tiles: test = every tile of :data:`TEST_PHOTOS` (in tile order),
    val = :data:`VAL_TILES` tiles of the other photos and train = the rest (a seeded permutation)."""
    tiles = sources.photo_tiles()
    test_stems = {Path(name).stem for name in TEST_PHOTOS}
    test = [tile for tile in tiles if tile.photo in test_stems]
    rest = [tile for tile in tiles if tile.photo not in test_stems]
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(rest))
    shuffled = [rest[i] for i in order]
    return {"train": shuffled[VAL_TILES:], "val": shuffled[:VAL_TILES], "test": test}


def _write_known_answer_layout(
    root: Path, answer: Callable[[torch.Tensor], torch.Tensor], inputs: Callable | None = None
) -> None:
    """The CycleGAN layout of one task: A = ``inputs(tiles)`` (None: the photos), B and the truths the answers."""
    split = photo_split()
    inputs = inputs or (lambda tiles: None)
    train_a, train_b = split["train"][0::2], split["train"][1::2]
    _write_tiles(root / "trainA", train_a, inputs(train_a))
    _write_tiles(root / "trainB", train_b, _map_tiles(answer, train_b))
    for name in ("val", "test"):
        held_out = split[name]
        answers = _map_tiles(answer, held_out)
        _write_tiles(root / f"{name}A", held_out, inputs(held_out))
        _write_tiles(root / f"{name}A_truth", held_out, answers)
        _write_tiles(root / f"{name}B", held_out, answers)


def _write_split(root: Path, folders: Sequence[str]) -> None:
    """The train, val and test tiles into ``folders`` (in that order)."""
    split = photo_split()
    for folder, name in zip(folders, SPLITS, strict=True):
        _write_tiles(root / folder, split[name])


def _write_style(root: Path) -> None:
    _write_split(root, ("content", "val", "test"))
    for name, paint in zip(EMBEDDED_STYLE_FILES, _STYLE_PAINTERS, strict=True):
        _write_png(root / name, paint())


#: How each embedded dataset is written into a folder, and what its README.txt says of it.
_BUILDERS: dict[str, Callable[[Path], None]] = {
    "cyclegan": lambda root: _write_known_answer_layout(root, colour_grade),
    "cyclegan_exposure": lambda root: _write_known_answer_layout(root, exposure_answer, _exposure_inputs),
    "style": _write_style,
    "autoencoder": lambda root: _write_split(root, SPLITS),
}
_READMES = {
    "cyclegan": (
        "Unpaired photo -> 'cold grade' (warm film grade, then red and blue swapped) translation\n"
        "in the CycleGAN layout.\n"
        "trainA/: photo tiles. trainB/: other photo tiles graded by f.\n"
        "testA/: tiles of photos never trained on; testA_truth/x.png = testB/x.png = f(testA/x.png).\n"
        "valA/: held-out tiles of the training photos (for tuning); valA_truth/ = valB/ = f(valA).\n"
        "f = stylenorm.data.known_answer_transform (formula in stylenorm/data/embedded.py).\n"
    ),
    "cyclegan_exposure": (
        "Unpaired 'random exposure' -> 'standardized, then graded' translation in the CycleGAN layout.\n"
        "trainA/: photo tiles, each under its own random gain and offset per channel (e).\n"
        "trainB/: other photo tiles standardized per channel, then graded by f (a).\n"
        "testA/, valA/: e(tiles) of the test and val splits (the split of the 'cyclegan' dataset);\n"
        "testA_truth/x.png = testB/x.png = a(clean tile of testA/x.png), the same for any e (valA alike).\n"
        "e, a, f: stylenorm.data.known_answer (formulas in stylenorm/data/known_answer.py).\n"
    ),
    "style": (
        "Content photos and style images for fast style transfer.\n"
        "content/: training photo tiles. val/: held-out tiles of the training photos (for tuning).\n"
        "test/: tiles of photos never trained on.\n"
        "style.png: a procedural stained-glass mosaic (stylenorm.data.sources.mosaic_style_image).\n"
        "style_1.png, style_2.png: flowing bands and diagonal stripes (swirl_style_image, stripes_style_image),\n"
        "the further styles of data.num_styles=2 or 3 (norm=conditional_instance).\n"
    ),
    "autoencoder": (
        "Photo tiles for the autoencoder. train/: training tiles. val/: held-out tiles of the training\n"
        "photos (for tuning). test/: tiles of photos never trained on.\n"
    ),
}


def embedded_style_images(root: str | os.PathLike, count: int = len(EMBEDDED_STYLE_FILES)) -> list[Path]:
    """The first ``count`` style paintings of the embedded ``style`` dataset in ``root``."""
    if not 1 <= count <= len(EMBEDDED_STYLE_FILES):
        raise ValueError(
            f"data.num_styles={count}: the embedded style data hold {len(EMBEDDED_STYLE_FILES)} paintings; use "
            f"1..{len(EMBEDDED_STYLE_FILES)}, or your own with data=content_style data.style_images=[a.jpg,b.jpg,...]."
        )
    return [Path(root) / name for name in EMBEDDED_STYLE_FILES[:count]]


def _read_manifest(root: Path) -> dict | None:
    try:
        return json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _manifest(name: str, root: Path) -> dict:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    counts = Counter(p.parent.relative_to(root).as_posix() for p in files if p.suffix == ".png" and p.parent != root)
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "generator": "stylenorm.data.embedded.materialize_embedded",
        "tile_size": TILE_SIZE,
        "counts": counts,
        "source_photos": {f"skimage/data/{k}": v for k, v in sources.source_photo_hashes().items()},
        "files": {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
    }


def _is_current(manifest: dict | None, name: str) -> bool:
    return manifest is not None and manifest.get("format_version") == FORMAT_VERSION and manifest.get("name") == name


def _move_into_place(staging: Path, root: Path, name: str) -> None:
    if _is_current(_read_manifest(root), name):  # another process finished first: keep its copy
        return
    old = None
    if root.exists() and any(root.iterdir()):  # an older format version: swap it out, delete it after
        old = root.with_name(f".{root.name}.old-{uuid.uuid4().hex[:8]}")
        root.rename(old)
    try:
        os.replace(staging, root)  # atomic; replaces an empty directory on POSIX
    except OSError:
        if not _is_current(_read_manifest(root), name):  # lost a race to a complete copy: fine
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def materialize_embedded(name: str, root: str | os.PathLike) -> Path:
    """Write the embedded dataset ``name`` into ``root`` unless it is there in this format version; returns ``root``.
    Never overwrites other data; safe from several processes (each writes a temporary folder, renamed into place)."""
    if name not in _BUILDERS:
        raise ValueError(f"Unknown embedded dataset {name!r}; expected one of {', '.join(EMBEDDED_NAMES)}.")
    root = Path(root)
    manifest = _read_manifest(root)
    if _is_current(manifest, name):
        return root
    if manifest is None and root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(
            f"{root} exists but is not an embedded dataset (no {MANIFEST}); refusing to overwrite it. Point "
            f"data.embedded_root / data.root elsewhere, or set data.embedded=null to use it as your own data."
        )
    if manifest is not None and manifest.get("name") != name:  # only an older version of the same one is replaced
        raise FileExistsError(
            f"{root} holds the embedded {manifest.get('name')!r} dataset, but {name!r} was asked for there. "
            f"Use a separate folder per dataset."
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.with_name(f".{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    start = time.perf_counter()
    try:
        staging.mkdir()
        _BUILDERS[name](staging)
        (staging / "README.txt").write_text(
            f"stylenorm embedded dataset {name!r} (format version {FORMAT_VERSION}).\n{_READMES[name]}"
            f"Generated by stylenorm.data.materialize_embedded from photographs bundled with scikit-image "
            f"({', '.join(sources.PHOTOS)}), cut into {TILE_SIZE} px tiles; see stylenorm/data/sources.py.\n"
            f"Deterministic: regenerating gives byte-identical files (SHA-256 in {MANIFEST}).\n"
        )
        manifest_text = json.dumps(_manifest(name, staging), indent=1, sort_keys=True) + "\n"
        (staging / MANIFEST).write_text(manifest_text)  # last: its presence marks a complete dataset
        _move_into_place(staging, root, name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("Generated the embedded %r dataset in %s (%.1f s).", name, root, time.perf_counter() - start)
    return root
