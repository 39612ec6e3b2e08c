"""Ablation presets compose and expand to the runs they promise."""

import itertools

import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO_ROOT

PRESETS = {
    "ablation_autoencoder": ("autoencoder", 9),
    "ablation_cyclegan": ("cyclegan", 9),
    "ablation_style": ("style", 9),
    "bn_vs_gn_small_batch": ("autoencoder", 4),
    "bn_eval_gap": ("cyclegan", 4),
}


def compose_preset(name, *overrides):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=[f"experiment={name}", *overrides], return_hydra_config=True)


def expand(params: dict) -> list[dict]:
    keys = list(params)
    return [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*(str(params[k]).split(",") for k in keys))
    ]


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_composes_as_a_sweep_with_the_expected_runs(name):
    model, runs = PRESETS[name]
    cfg = compose_preset(name)
    assert cfg.model.name == model and cfg.hydra.mode.name == "MULTIRUN" and cfg.seed == 0
    variants = expand(dict(cfg.hydra.sweeper.params))
    distinct = {
        tuple(sorted(v.items())) for v in variants if not (v.get("norm") == "none" and v.get("norm.affine") == "true")
    }
    assert len(distinct) == runs


def test_redundant_none_affine_variant_is_skipped(monkeypatch):
    from hydra.types import RunMode

    import stylenorm.train as train

    class FakeHydra:
        mode = RunMode.MULTIRUN

    monkeypatch.setattr(train.HydraConfig, "get", staticmethod(lambda: FakeHydra()))
    cfg = compose_preset("ablation_autoencoder", "norm=none", "norm.affine=true")
    assert train.is_redundant_sweep_variant(cfg)
    assert train.run(cfg) == {}  # nothing trained
    assert not train.is_redundant_sweep_variant(compose_preset("ablation_autoencoder", "norm=none"))


def test_paper_presets_restore_the_papers_settings():
    cyclegan = compose_preset("cyclegan_paper", "data.root=horse2zebra")
    assert (cyclegan.model.generator.ngf, cyclegan.model.generator.n_blocks) == (64, 9)
    assert (cyclegan.data.image_size, cyclegan.data.load_size, cyclegan.data.batch_size) == (256, 286, 1)
    assert (cyclegan.trainer.max_epochs, cyclegan.model.n_epochs + cyclegan.model.n_epochs_decay) == (200, 200)
    style = compose_preset("style_paper", "data.root=coco", "data.style_image=candy.jpg")
    assert (style.data.image_size, style.data.batch_size, style.trainer.max_epochs) == (256, 4, 2)
    assert style.model.vgg_weights == "imagenet" and style.model.content_weight == 1e5
