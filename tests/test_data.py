"""Data: embedded datasets (deterministic, disjoint, known answer), robust image reading, transforms,
datasets, datamodules and the data configs. Everything is written under tmp_path, never into data/."""

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from conftest import REPO_ROOT
from stylenorm.data import (
    EMBEDDED_NAMES,
    ImageFolderDataModule,
    ImageFolderDataset,
    StyleDataModule,
    UnpairedDataModule,
    UnpairedDataset,
    UnreadableImageWarning,
    eval_transform,
    hold_out,
    known_answer_transform,
    list_images,
    load_rgb,
    materialize_embedded,
    spread,
    to_float_tensor,
    unpaired_train_transform,
)
from stylenorm.data import embedded as embedded_module
from stylenorm.data.sources import photo_tiles

CONFIG_DIR = REPO_ROOT / "configs"
COMMON_KEYS = {"root", "image_size", "batch_size", "num_workers", "embedded", "embedded_root", "max_val_images", "seed"}


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def as_float(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).permute(2, 0, 1).double() / 255.0


def write_image(path: Path, size=(24, 16), colour=(200, 30, 60), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / (a - b).pow(2).mean()))


@pytest.fixture(scope="module")
def embedded_dir(tmp_path_factory) -> Path:
    """The three embedded datasets, materialised once for this module (under pytest's tmp dir)."""
    data_dir = tmp_path_factory.mktemp("data")
    for name in EMBEDDED_NAMES:
        materialize_embedded(name, data_dir / "embedded" / name)
    return data_dir


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides))


# --- embedded datasets --------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("name", EMBEDDED_NAMES)
def test_embedded_datasets_are_byte_identical_across_runs(tmp_path, embedded_dir, name):
    photo_tiles.cache_clear()  # cut the photos again rather than reuse the first run's tiles
    second = materialize_embedded(name, tmp_path / name)
    first = embedded_dir / "embedded" / name
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len(files) > 400
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative
    manifest = json.loads((second / "MANIFEST.json").read_text())
    for relative, digest in manifest["files"].items():
        assert hashlib.sha256((second / relative).read_bytes()).hexdigest() == digest
    assert "README.txt" in manifest["files"]


def test_embedded_layouts_and_sizes(embedded_dir):
    root = embedded_dir / "embedded"
    counts = {str(p.relative_to(root)): len(list(p.glob("*.png"))) for p in root.glob("*/*") if p.is_dir()}
    for name in ("cyclegan", "cyclegan_exposure"):
        assert counts[f"{name}/testA"] == counts[f"{name}/testA_truth"] == counts[f"{name}/testB"] == 82
        assert counts[f"{name}/valA"] == counts[f"{name}/valA_truth"] == counts[f"{name}/valB"] == 64
        assert counts[f"{name}/trainA"] == counts[f"{name}/trainB"] == 155
    assert (counts["style/content"], counts["style/val"], counts["style/test"]) == (310, 64, 82)
    assert (counts["autoencoder/train"], counts["autoencoder/val"], counts["autoencoder/test"]) == (310, 64, 82)
    assert pixels(root / "style" / "style.png").shape == (256, 256, 3)
    tile = next((root / "autoencoder" / "train").glob("*.png"))
    assert pixels(tile).shape == (64, 64, 3)
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total < 20e6, f"embedded data take {total / 1e6:.1f} MB"


def _photo(stem: str) -> str:
    return stem.rsplit("_r", 1)[0]


def test_no_source_photo_is_in_both_training_and_test(embedded_dir):
    root = embedded_dir / "embedded"
    folders = {
        "autoencoder": (["train"], ["val"], ["test"]),
        "style": (["content"], ["val"], ["test"]),
        "cyclegan": (["trainA", "trainB"], ["valA", "valB", "valA_truth"], ["testA", "testB", "testA_truth"]),
        "cyclegan_exposure": (["trainA", "trainB"], ["valA", "valB", "valA_truth"], ["testA", "testB", "testA_truth"]),
    }
    for name, (train, val, test) in folders.items():
        stems = {
            split: {p.stem for folder in group for p in (root / name / folder).glob("*.png")}
            for split, group in zip(("train", "val", "test"), (train, val, test), strict=True)
        }
        photos = {split: {_photo(stem) for stem in names} for split, names in stems.items()}
        assert not photos["train"] & photos["test"], name  # split by photo: no test photo was trained on
        assert photos["val"] <= photos["train"], name  # val: held-out tiles of the training photos
        assert not stems["val"] & stems["train"], name  # ... but never the trained tiles themselves
        assert photos["test"] == {"chelsea", "coffee"} and len(stems["test"]) >= 64, name
        assert len(stems["val"]) == 64, name
    tiles_per_photo = {}
    for tile in photo_tiles():
        tiles_per_photo[_photo(tile.name)] = tiles_per_photo.get(_photo(tile.name), 0) + 1
    assert tiles_per_photo["chelsea"] + tiles_per_photo["coffee"] == 82  # every tile of the test photos


def test_cyclegan_splits_are_disjoint(embedded_dir):
    root = embedded_dir / "embedded" / "cyclegan"
    tiles = {tile.name: tile.pixels for tile in photo_tiles()}
    names = {split: {p.stem for p in (root / split).glob("*.png")} for split in ("trainA", "trainB", "valA", "testA")}
    splits = list(names)
    for i, first in enumerate(splits):
        for second in splits[i + 1 :]:
            assert not names[first] & names[second], (first, second)
    # compare the source pixels too: B files hold f(tile), so look their tiles up and check f
    source_hashes = {}
    for split, stems in names.items():
        source_hashes[split] = set()
        for stem in stems:
            source = tiles[stem]
            stored = pixels(root / split / f"{stem}.png")
            if split.endswith("A"):
                np.testing.assert_array_equal(stored, source)
            else:
                expected = known_answer_transform(as_float(source))
                assert (as_float(stored) - expected).abs().max() <= 1 / 255 + 1e-9
            source_hashes[split].add(hashlib.sha256(source.tobytes()).hexdigest())
        assert len(source_hashes[split]) == len(stems)  # no tile twice within a split either
    for i, first in enumerate(splits):
        for second in splits[i + 1 :]:
            assert not source_hashes[first] & source_hashes[second], (first, second)
    for split in ("val", "test"):  # held-out B folders hold the answers of the A tiles (never trained on)
        assert {p.stem for p in (root / f"{split}B").glob("*.png")} == names[f"{split}A"]


def test_test_truth_is_the_known_answer_and_far_from_identity(embedded_dir):
    root = embedded_dir / "embedded" / "cyclegan"
    test_a = sorted((root / "testA").glob("*.png"))
    truth = [root / "testA_truth" / p.name for p in test_a]
    a = torch.stack([as_float(pixels(p)) for p in test_a])
    b = torch.stack([as_float(pixels(p)) for p in truth])
    assert (known_answer_transform(a) - b).abs().max() <= 1 / 255 + 1e-9
    assert psnr(a, b) < 11.0  # doing nothing is a weak baseline (10.2 dB; a CPU-sized CycleGAN reached 13 dB)
    assert psnr(known_answer_transform(a), b) > 50.0


def test_known_answer_transform_shapes_range_and_errors():
    image = torch.rand(3, 5, 7)
    out = known_answer_transform(image)
    assert out.shape == image.shape and out.dtype == image.dtype and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(known_answer_transform(image.unsqueeze(0).repeat(2, 1, 1, 1))[1], out)
    grey, black = torch.full((3, 1, 1), 0.5), torch.zeros(3, 1, 1)
    assert known_answer_transform(black).max() == 0  # 0.5 + 1.2 * (0 - 0.5) < 0 -> clipped
    r, g, b = known_answer_transform(grey).flatten().tolist()
    assert b > g > r  # cold: the warm grade lifts red over blue, then red and blue are swapped
    for bad in (torch.rand(1, 5, 5), torch.randint(0, 255, (3, 4, 4)), torch.rand(5, 5)):
        with pytest.raises(ValueError, match="float RGB tensor"):
            known_answer_transform(bad)


def test_materialize_is_idempotent_and_replaces_only_its_own_old_versions(tmp_path):
    root = materialize_embedded("autoencoder", tmp_path / "ae")
    manifest = root / "MANIFEST.json"
    stamp = manifest.stat().st_mtime_ns
    assert materialize_embedded("autoencoder", root) == root and manifest.stat().st_mtime_ns == stamp

    old = json.loads(manifest.read_text())
    old["format_version"] = 0
    manifest.write_text(json.dumps(old))
    (root / "train" / "stale.png").write_bytes(b"old")
    materialize_embedded("autoencoder", root)
    assert json.loads(manifest.read_text())["format_version"] == embedded_module.FORMAT_VERSION
    assert not (root / "train" / "stale.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ae"]  # no staging or old copies left behind

    with pytest.raises(FileExistsError, match="'autoencoder' dataset, but 'style'"):
        materialize_embedded("style", root)
    user_data = tmp_path / "mine"
    write_image(user_data / "photo.png")
    with pytest.raises(FileExistsError, match="not an embedded dataset"):
        materialize_embedded("style", user_data)
    assert (user_data / "photo.png").exists()
    with pytest.raises(ValueError, match="cyclegan, cyclegan_exposure, style, autoencoder"):
        materialize_embedded("horse2zebra", tmp_path / "x")


def test_interrupted_generation_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    def crash(root: Path) -> str:
        write_image(root / "train" / "a.png")
        raise KeyboardInterrupt  # e.g. Ctrl-C half way

    monkeypatch.setitem(embedded_module._BUILDERS, "autoencoder", crash)
    with pytest.raises(KeyboardInterrupt):
        materialize_embedded("autoencoder", tmp_path / "ae")
    assert list(tmp_path.iterdir()) == []


# --- reading images -----------------------------------------------------------------------------


def test_list_images_sorted_recursive_case_insensitive(tmp_path):
    for name in ("b.PNG", "a.jpg", "sub/c.JpEg", "notes.txt", ".hidden.png", ".cache/d.png", "e.webp"):
        write_image(tmp_path / name) if not name.endswith(".txt") else (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == [
        "a.jpg",
        "b.PNG",
        "e.webp",
        "sub/c.JpEg",
    ]
    assert [p.name for p in list_images(tmp_path, recursive=False)] == ["a.jpg", "b.PNG", "e.webp"]


def test_missing_or_empty_folders_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere not found.*expected trainA"):
        list_images(tmp_path / "nowhere", hint="expected trainA/")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    with pytest.raises(FileNotFoundError, match=r"empty has no images.*\.png"):
        list_images(tmp_path / "empty")


def test_exif_orientation_is_applied(tmp_path):
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 10))  # red in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = load_rgb(tmp_path / "phone.jpg")
    assert image.mode == "RGB" and image.size == (20, 40)
    top_right = np.asarray(image)[2, -3]
    assert top_right[0] > 200 and top_right[2] < 60


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("L", 77, (77, 77, 77)),
        ("P", 0, None),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
        ("RGBA", (10, 20, 30, 0), (255, 255, 255)),  # transparent -> white background
        ("LA", (50, 0), (255, 255, 255)),
    ],
)
def test_modes_load_as_8bit_rgb(tmp_path, mode, value, expected):
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    if mode == "P":
        Image.new("RGB", (6, 4), (0, 128, 255)).convert("P", palette=Image.Palette.ADAPTIVE).save(path)
        expected = (0, 128, 255)
    else:
        Image.new(mode, (6, 4), value).save(path)
    image = load_rgb(path)
    assert image.mode == "RGB" and image.size == (6, 4)
    np.testing.assert_allclose(np.asarray(image)[1, 1], expected, atol=1)


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16).repeat(2, axis=0)
    Image.fromarray(values).save(tmp_path / "scan.png")
    assert Image.open(tmp_path / "scan.png").mode.startswith("I")
    image = load_rgb(tmp_path / "scan.png")
    assert image.mode == "RGB" and image.size == (3, 2)
    np.testing.assert_array_equal(np.asarray(image)[0, :, 0], [0, 100, 255])


def make_folder_with_broken_files(folder: Path) -> list[str]:
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        write_image(folder / f"good{i}.png", colour=colour)
    good = (folder / "good0.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "not_an_image.jpg").write_text("<html>404</html>")
    return ["empty.jpg", "not_an_image.jpg", "truncated.png"]


def test_broken_files_are_named_once_and_skipped(tmp_path):
    broken = make_folder_with_broken_files(tmp_path)
    dataset = ImageFolderDataset(tmp_path, eval_transform(8))
    assert len(dataset) == 6
    with pytest.warns(UnreadableImageWarning) as caught:
        items = [dataset[i]["image"] for i in range(len(dataset))]
        items += [dataset[i]["image"] for i in range(len(dataset))]  # second epoch: no new warnings
    assert len(caught) == len(broken)
    assert sorted(name for w in caught for name in broken if f"{tmp_path / name} (" in str(w.message)) == broken
    assert all(item.shape == (3, 8, 8) for item in items)
    # every item is one of the three good images (the skipped ones fall through to the next good one)
    colours = {tuple(item[:, 0, 0].round().int().tolist()) for item in items}
    assert colours == {(1, 0, 0), (0, 1, 0), (0, 0, 1)}


def test_a_folder_of_only_broken_files_is_a_clear_error(tmp_path):
    make_folder_with_broken_files(tmp_path)
    for i in range(3):
        (tmp_path / f"good{i}.png").unlink()
    dataset = ImageFolderDataset(tmp_path)
    with pytest.warns(UnreadableImageWarning), pytest.raises(RuntimeError, match="None of the 3 images under"):
        dataset[0]


# --- transforms and datasets --------------------------------------------------------------------


def test_random_crop_and_flip_give_image_size_crops():
    source = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    reference = to_float_tensor()(source)
    no_crop = unpaired_train_transform(image_size=40, load_size=40, flip=True)  # resize to the same size: no-op
    outputs = [no_crop(source) for _ in range(20)]
    flipped = [torch.equal(out, reference.flip(-1)) for out in outputs]
    assert all(torch.equal(out, reference) or f for out, f in zip(outputs, flipped, strict=True))
    assert 0 < sum(flipped) < 20

    crop = unpaired_train_transform(image_size=32, load_size=40, flip=False)
    offsets = set()
    for _ in range(20):
        out = crop(source)
        assert out.shape == (3, 32, 32) and out.dtype == torch.float32 and out.min() >= 0 and out.max() <= 1
        matches = [(y, x) for y in range(9) for x in range(9) if torch.equal(out, reference[:, y : y + 32, x : x + 32])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 5
    with pytest.raises(ValueError, match="load_size=16 is smaller than data.image_size=32"):
        unpaired_train_transform(image_size=32, load_size=16)


def test_unpaired_dataset_shapes_range_and_independent_b(embedded_dir):
    root = embedded_dir / "embedded" / "cyclegan"
    dataset = UnpairedDataset(root / "trainA", root / "testB", unpaired_train_transform(48, 56))
    assert len(dataset) == max(len(list((root / "trainA").glob("*"))), 16)
    items = [dataset[0] for _ in range(8)]
    for item in items:
        assert set(item) == {"A", "B"}
        for image in item.values():
            assert image.shape == (3, 48, 48) and image.dtype == torch.float32
            assert image.min() >= 0 and image.max() <= 1
    b_sources = {tuple(item["B"].mean(dim=(1, 2)).tolist()) for item in items}
    assert len(b_sources) > 1  # B is drawn at random, not tied to A's index


def test_hold_out_and_spread_are_deterministic_and_disjoint():
    paths = [Path(f"{i:03d}.png") for i in range(100)]
    train, val = hold_out(paths, 8, seed=0)
    assert len(val) == 8 and len(train) == 92 and not set(train) & set(val)
    assert hold_out(paths, 8, seed=0) == (train, val) and hold_out(paths, 8, seed=1)[1] != val
    assert len(hold_out(paths[:20], 8, seed=0)[1]) == 2  # at most a tenth
    assert spread(paths, 4) == [Path("000.png"), Path("033.png"), Path("066.png"), Path("099.png")]
    assert spread(paths[:3], 8) == paths[:3]
    with pytest.raises(ValueError, match="at least 2"):
        hold_out(paths[:1], 8, seed=0)


# --- datamodules and configs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "keys"), [("cyclegan", {"A", "B"}), ("style", {"content"}), ("autoencoder", {"image"})]
)
def test_default_data_configs_give_batches_of_the_configured_shape(embedded_dir, model, keys):
    cfg = compose_train(f"model={model}", f"paths.data_dir={embedded_dir}", "data.image_size=32", "data.batch_size=2")
    default_dataset = {"cyclegan": "cyclegan_exposure"}.get(model, model)  # CycleGAN's default task: exposure
    assert cfg.data.embedded == default_dataset and set(cfg.data) >= COMMON_KEYS
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    train = datamodule.train_dataloader()
    assert train.drop_last
    batch = next(iter(train))
    assert set(batch) == keys
    assert all(x.shape == (2, 3, 32, 32) and x.min() >= 0 and x.max() <= 1 for x in batch.values())
    val_batches = [list(datamodule.val_dataloader()) for _ in range(2)]
    assert len(datamodule.val_set) == 8
    for first, second in zip(*val_batches, strict=True):  # validation is fixed: same pixels every time
        assert all(torch.equal(first[k], second[k]) for k in first)
    if model == "cyclegan":
        assert set(val_batches[0][0]) == {"A", "B", "A_truth"}
    if model == "style":
        assert datamodule.style_image_tensor().shape == (1, 3, 256, 256)


def test_embedded_cyclegan_config_values(tmp_path):
    cfg = compose_train("model=cyclegan", "data=embedded_cyclegan", f"paths.data_dir={tmp_path}")
    data = OmegaConf.to_container(cfg.data, resolve=True)
    assert data == {
        "_target_": "stylenorm.data.UnpairedDataModule",
        "root": f"{tmp_path}/embedded/cyclegan_exposure",
        "image_size": 64,
        "load_size": 72,
        "flip": True,
        "batch_size": 1,
        "eval_split": "test",
        "num_workers": 0,
        "embedded": "cyclegan_exposure",
        "embedded_root": None,
        "max_val_images": 8,
        "seed": 0,
        "known_answer": "exposure",  # the default task: doing nothing is weak, the answer ignores exposure
    }
    graded = compose_train("model=cyclegan", "data.known_answer=colour_grade", f"paths.data_dir={tmp_path}")
    assert (graded.data.embedded, graded.data.root) == ("cyclegan", f"{tmp_path}/embedded/cyclegan")


@pytest.mark.parametrize("name", ["unpaired", "content_style", "image_folder"])
def test_real_data_configs_require_a_root(name):
    cfg = compose_train(f"data={name}")
    assert OmegaConf.is_missing(cfg.data, "root") and cfg.data.num_workers == 4 and cfg.data.embedded is None


def test_every_data_config_key_has_a_comment_and_the_common_keys():
    for path in sorted((CONFIG_DIR / "data").glob("*.yaml")):
        text = path.read_text()
        for line in text.splitlines():
            # every key that sets a value explains itself (section headers like `data:` need not)
            if re.match(r"^\s*[A-Za-z_]+: \S", line) and not line.lstrip().startswith("_target_:"):
                assert "#" in line, f"{path.name}: no comment on {line!r}"
        if not path.stem.startswith("embedded_"):  # the common keys may come from configs/data_loader.yaml
            assert set(compose_train(f"data={path.stem}").data) >= COMMON_KEYS, path.name


def test_user_cyclegan_data_missing_folders_are_named(tmp_path):
    write_image(tmp_path / "horse2zebra" / "trainA" / "a.png")
    cfg = compose_train("data=unpaired", f"data.root={tmp_path / 'horse2zebra'}")
    datamodule = instantiate(cfg.data)
    with pytest.raises(FileNotFoundError, match=r"horse2zebra/trainB not found.*horse2zebra etc"):
        datamodule.setup("fit")


def test_cyclegan_without_test_folders_validates_on_a_few_train_images(tmp_path, caplog):
    for domain in "AB":
        for i in range(12):
            write_image(tmp_path / f"train{domain}" / f"{i:02d}.png", size=(20, 20), colour=(i * 20, 0, 0))
    datamodule = UnpairedDataModule(tmp_path, image_size=16, load_size=18, batch_size=3)
    with caplog.at_level(logging.INFO, logger="stylenorm.data.datamodules"):
        datamodule.setup("fit")
    assert "testA not found: validating on 8 of the trainA images" in caplog.text
    assert len(datamodule.val_set) == 8 and "A_truth" not in datamodule.val_set[0]
    assert next(iter(datamodule.train_dataloader()))["A"].shape == (3, 3, 16, 16)


def test_cyclegan_truth_must_match_test_a_names(tmp_path):
    for folder in ("trainA", "trainB", "testA", "testB", "testA_truth"):
        write_image(tmp_path / folder / "x.png")
    write_image(tmp_path / "testA" / "y.png")
    with pytest.raises(FileNotFoundError, match=r"testA_truth has no ground truth for 1 testA image\(s\), e.g. y.png"):
        UnpairedDataModule(tmp_path, image_size=8, load_size=8).setup("fit")


def test_style_datamodule_style_image_and_held_out_content(tmp_path):
    for i in range(30):
        write_image(tmp_path / "coco" / f"{i:03d}.jpg", size=(30, 20))
    with pytest.raises(FileNotFoundError, match=r"missing.jpg not found. Set data.style_image"):
        StyleDataModule(tmp_path / "coco", style_image=tmp_path / "missing.jpg", image_size=16)  # before any run
    write_image(tmp_path / "painting.png", size=(60, 30))
    datamodule = StyleDataModule(tmp_path / "coco", style_image=tmp_path / "painting.png", style_size=40, image_size=16)
    datamodule.setup("fit")
    assert datamodule.style_image_tensor().shape == (1, 3, 20, 40)
    assert len(datamodule.val_set) == 3 and len(datamodule.train_set) == 27  # a tenth held out
    train_files = set(datamodule.train_set.images.paths)
    assert not train_files & set(datamodule.val_set.images.paths)
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["content"].shape == (4, 3, 16, 16)


def test_image_folder_datamodule_with_val_root_and_last_partial_batch(tmp_path):
    for i in range(5):
        write_image(tmp_path / "train" / f"{i}.png", size=(20, 20))
        write_image(tmp_path / "val" / f"{i}.png", size=(20, 20))
    datamodule = ImageFolderDataModule(tmp_path / "train", val_root=tmp_path / "val", image_size=16, batch_size=2)
    datamodule.setup("fit")
    assert len(datamodule.train_set) == 5 and len(datamodule.val_set) == 5
    assert [b["image"].shape[0] for b in datamodule.train_dataloader()] == [2, 2]  # drop_last: no batch of 1
    assert [b["image"].shape[0] for b in datamodule.val_dataloader()] == [2, 2, 1]
    small = ImageFolderDataModule(tmp_path / "train", val_root=tmp_path / "val", image_size=16, batch_size=8)
    small.setup("fit")
    assert not small.train_dataloader().drop_last  # fewer images than a batch: keep them all


@pytest.mark.parametrize("model", ["autoencoder", "cyclegan", "style"])
def test_eval_split_picks_the_held_out_folder(embedded_dir, model):
    """eval_split=test validates on the photos never trained on, eval_split=val on held-out tiles of
    the training photos (the tuning split); max_val_images=null keeps every tile of the split."""
    extra = ["model.vgg_weights=random"] if model == "style" else []
    seen = {}
    for split, expected in (("test", 82), ("val", 64)):
        cfg = compose_train(
            f"model={model}",
            f"paths.data_dir={embedded_dir}",
            f"eval_split={split}",
            "data.max_val_images=null",
            *extra,
        )
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
        images = datamodule.val_set.a if model == "cyclegan" else datamodule.val_set.images
        seen[split] = {Path(p).stem for p in images.paths}
        assert len(seen[split]) == expected, (model, split)
    assert {stem.rsplit("_r", 1)[0] for stem in seen["test"]} == {"chelsea", "coffee"}
    assert not {stem.rsplit("_r", 1)[0] for stem in seen["val"]} & {"chelsea", "coffee"}


def test_eval_split_val_without_val_folders_is_refused(tmp_path):
    for folder in ("trainA", "trainB", "testA", "testB"):
        write_image(tmp_path / folder / "x.png")
    with pytest.raises(ValueError, match="eval_split='tuning': expected test"):
        UnpairedDataModule(tmp_path, image_size=16, load_size=18, eval_split="tuning")
    datamodule = UnpairedDataModule(tmp_path, image_size=16, load_size=18, eval_split="val")
    with pytest.raises(FileNotFoundError, match="eval_split=val but .*valA is not there"):
        datamodule.setup("fit")
