"""The tasks between the extremes (stylenorm/data/known_answer.py) against numpy recomputations of
their documented formulas; the embedded autoencoder data pose them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from test_known_answer import affine_fit, reference_exposure_answer, reference_grade

from stylenorm.data import ImageFolderDataModule
from stylenorm.data.known_answer import (
    KNOWN_ANSWERS,
    LIGHTING_GAIN_RANGE,
    LIGHTING_GAMMA_RANGE,
    VIGNETTE_CENTRE_RANGE,
    VIGNETTE_RANGE,
    apply_lighting,
    colour_grade,
    exposure_answer,
    known_answer_pair,
    lighting_pair,
    lighting_parameters,
    mixture_answer,
)
from stylenorm.data.sources import photo_tiles


def tiles(count: int = 12) -> torch.Tensor:
    chosen = photo_tiles()[:: len(photo_tiles()) // count][:count]
    return torch.from_numpy(np.stack([t.pixels for t in chosen])).permute(0, 3, 1, 2).double() / 255.0


def reference_lighting(image: np.ndarray, gamma, gain, vignette, centre) -> np.ndarray:
    """n(x) of docs/modules.md for one (3, H, W) image, with plain loops over pixel centres."""
    _, height, width = image.shape
    out = np.empty_like(image)
    radius = np.hypot(height, width) / 2
    for i in range(height):
        for j in range(width):
            distance = np.hypot(i + 0.5 - centre[0] * height, j + 0.5 - centre[1] * width)
            falloff = 1 - vignette * (distance / radius) ** 2
            for c in range(3):
                out[c, i, j] = min(1.0, max(0.0, gain * falloff * image[c, i, j] ** gamma[c]))
    return out


@pytest.mark.integration
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.75, 1.0])
def test_mixture_answer_blends_the_two_extremes(alpha):
    x = tiles()
    expected = (1 - alpha) * reference_grade(x.numpy()) + alpha * reference_exposure_answer(x.numpy())
    np.testing.assert_allclose(mixture_answer(x, alpha).numpy(), expected, atol=1e-9)
    model_input, answer = known_answer_pair("mixture", x, alpha=alpha)
    assert model_input is x and torch.equal(answer, mixture_answer(x, alpha))
    if alpha == 0.0:
        assert torch.equal(mixture_answer(x, alpha), colour_grade(x))
    if alpha == 1.0:
        assert torch.equal(mixture_answer(x, alpha), exposure_answer(x))


def test_lighting_matches_its_formula_and_its_answer_ignores_the_nuisance():
    x = tiles(4)
    parameters = lighting_parameters(x, torch.Generator().manual_seed(3))
    lit = apply_lighting(x, parameters)
    for index in range(len(x)):
        p = {key: value[index].numpy().ravel() for key, value in parameters.items()}
        expected = reference_lighting(x[index].numpy(), p["gamma"], p["gain"][0], p["vignette"][0], p["centre"])
        np.testing.assert_allclose(lit[index].numpy(), expected, atol=1e-12)
    model_input, answer = lighting_pair(x, torch.Generator().manual_seed(3))
    assert torch.equal(model_input, lit)
    np.testing.assert_allclose(answer.numpy(), reference_exposure_answer(x.numpy()), atol=1e-9)


def test_lighting_parameters_stay_in_their_ranges_and_vary_per_image():
    x = torch.rand(256, 3, 8, 8, dtype=torch.float64)
    p = lighting_parameters(x, torch.Generator().manual_seed(0))
    for key, bounds in (("gamma", LIGHTING_GAMMA_RANGE), ("gain", LIGHTING_GAIN_RANGE), ("vignette", VIGNETTE_RANGE)):
        assert bounds[0] <= p[key].min() and p[key].max() <= bounds[1], key
        assert p[key].max() - p[key].min() > 0.8 * (bounds[1] - bounds[0]), key  # spread over the range
    assert VIGNETTE_CENTRE_RANGE[0] <= p["centre"].min() and p["centre"].max() <= VIGNETTE_CENTRE_RANGE[1]
    assert p["gamma"].shape == (256, 3, 1, 1) and p["centre"].shape == (256, 2)


def test_no_norm_removes_the_lighting_nuisance():
    """Unlike exposure's gain and offset, n(x) is far from an affine change per channel of x (so
    instance norm of the input does not undo it), it varies in space and it clips."""
    x = tiles()
    lit = apply_lighting(x, lighting_parameters(x, torch.Generator().manual_seed(1)))
    residuals = np.array([affine_fit(a.numpy(), b.numpy())[2].max() for a, b in zip(x, lit, strict=True)])
    assert np.median(residuals) > 0.01  # exposure's nuisance: < 1/255
    clipped = (lit == 1.0) & (x < 1.0)
    assert clipped.any()


def test_known_answer_names_include_the_tasks_between():
    assert KNOWN_ANSWERS == ("colour_grade", "exposure", "mixture", "lighting")


def write_tiles(folder, count: int) -> None:
    folder.mkdir(parents=True)
    for index, tile in enumerate(photo_tiles()[:count]):
        Image.fromarray(tile.pixels).save(folder / f"{index}.png")


def test_datamodule_poses_the_mixture_with_its_alpha_and_refuses_a_bad_one(tmp_path):
    write_tiles(tmp_path / "train", 6)
    write_tiles(tmp_path / "val", 3)
    common = dict(val_root=tmp_path / "val", image_size=64, batch_size=3, random_crop=False, flip=False)
    datamodule = ImageFolderDataModule(tmp_path / "train", known_answer="mixture", mixture_alpha=0.25, **common)
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    image = batch["image"].double().numpy()
    expected = 0.75 * reference_grade(image) + 0.25 * reference_exposure_answer(image)
    np.testing.assert_allclose(batch["target"].numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"data.mixture_alpha=1.5: expected a weight in \[0, 1\]"):
        ImageFolderDataModule(tmp_path / "train", known_answer="mixture", mixture_alpha=1.5, **common)


def test_datamodule_lighting_validation_is_fixed_and_its_target_is_the_clean_answer(tmp_path):
    write_tiles(tmp_path / "train", 6)
    write_tiles(tmp_path / "val", 3)
    common = dict(val_root=tmp_path / "val", image_size=64, batch_size=3, random_crop=False, flip=False)
    datamodule = ImageFolderDataModule(tmp_path / "train", known_answer="lighting", **common)
    datamodule.setup("fit")
    first, second = (next(iter(datamodule.val_dataloader())) for _ in range(2))
    assert torch.equal(first["image"], second["image"])  # the same nuisance on every validation
    clean = np.stack([t.pixels for t in photo_tiles()[:3]]).transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(first["target"].numpy(), reference_exposure_answer(clean), atol=1e-5)
    assert np.abs(first["image"].numpy() - clean).mean() > 0.02  # the input is under the nuisance
