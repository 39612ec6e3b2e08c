"""Config combinations that would fail late or mislead are named before anything is built."""

import json
import logging

import pytest

from conftest import compose_offline_run, run_folders
from stylenorm.train import run


def assert_refused_and_nothing_trained(root, message: str) -> None:
    """A refused run's folder says why (result.json), and no checkpoint was written."""
    (folder,) = run_folders(root / "logs") if (root / "logs").exists() else [None]
    result = json.loads((folder / "result.json").read_text())
    assert result["status"] == "refused" and message in result["error"]
    assert not any((root / "checkpoints").rglob("*.ckpt"))


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        ("cyclegan", "image_folder", r"model=cyclegan trains on UnpairedDataModule data.*Use data=unpaired"),
        ("autoencoder", "unpaired", r"model=autoencoder trains on ImageFolderDataModule data.*data=image_folder"),
        ("style", "image_folder", r"model=style trains on StyleDataModule data.*data=content_style"),
    ],
)
@pytest.mark.integration
def test_a_model_with_another_models_data_is_refused_with_the_fix(tmp_path, model, data, expected):
    (tmp_path / "images").mkdir()
    cfg = compose_offline_run(tmp_path, f"model={model}", f"data={data}", f"data.root={tmp_path / 'images'}")
    with pytest.raises(ValueError, match=expected):
        run(cfg)
    assert_refused_and_nothing_trained(tmp_path, "trains on")


@pytest.mark.parametrize(
    ("norm", "batch_size", "warned"), [("batch", 1, True), ("batch", 2, False), ("instance", 1, False)]
)
@pytest.mark.integration
def test_batch_statistics_at_batch_size_one_are_announced(tmp_path, caplog, norm, batch_size, warned):
    cfg = compose_offline_run(
        tmp_path, "model=autoencoder", f"norm={norm}", f"data.batch_size={batch_size}", "data.image_size=32",
        "model.network.base_channels=8", "trainer.max_steps=1",
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="stylenorm.config_checks"):
        run(cfg)
    assert ("with data.batch_size=1: training normalises each image by its own statistics" in caplog.text) is warned


@pytest.mark.integration
def test_an_unreadable_style_image_is_named_before_training(tmp_path):
    from PIL import Image

    (tmp_path / "photos").mkdir()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(tmp_path / "photos" / "a.png")
    (tmp_path / "painting.jpg").write_text("<html>a web page saved as .jpg</html>")
    cfg = compose_offline_run(
        tmp_path, "model=style", "model.vgg_weights=random", "data=content_style",
        f"data.root={tmp_path / 'photos'}", f"data.style_image={tmp_path / 'painting.jpg'}",
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"painting\.jpg cannot be read as an image .*data\.style_image"):
        run(cfg)
    assert_refused_and_nothing_trained(tmp_path, "painting.jpg")


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        (
            "autoencoder",
            30,
            r"data.image_size=30 does not fit model=autoencoder.*multiples of 4.*data.image_size=28 or ",
        ),
        ("style", 6, r"TransformerNet \(transformer\).*at least 8 px\. Use data.image_size=8\."),
    ],
)
@pytest.mark.integration
def test_an_image_size_the_networks_cannot_take_is_refused_before_training(tmp_path, model, size, expected):
    cfg = compose_offline_run(
        tmp_path, f"model={model}", f"data.image_size={size}", "model.vgg_weights=random" if model == "style" else
        "model.network.base_channels=8", "trainer.max_steps=1",
    )  # fmt: skip
    with pytest.raises(ValueError, match=expected):
        run(cfg)
    assert_refused_and_nothing_trained(tmp_path, "does not fit")
