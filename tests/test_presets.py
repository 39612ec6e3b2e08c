"""Ablation presets compose and expand to the runs they promise."""

import itertools

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from conftest import REPO_ROOT
from stylenorm.run_record import hparam_key
from stylenorm.tasks import AutoencoderTask, CycleGANTask, StyleTransferTask

#: preset -> (model, distinct runs: variants x 5 seeds, the study protocol's shared stage)
PRESETS = {
    "ablation_autoencoder": ("autoencoder", 9 * 5),
    "ablation_cyclegan": ("cyclegan", 9 * 5),
    "ablation_style": ("style", 9 * 5),
    "bn_vs_gn_small_batch": ("autoencoder", 10 * 5),
    "bn_vs_gn_small_batch_equal_steps": ("autoencoder", 10 * 5),
    "bn_eval_gap": ("cyclegan", 4 * 5),
}
TASKS = {"autoencoder": AutoencoderTask, "cyclegan": CycleGANTask, "style": StyleTransferTask}


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


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_states_its_protocol(name):
    """Seeds swept, precision pinned, a reference variant that is in the sweep, a primary metric the
    model logs, and what the variants hold equal (the evidence standard, docs/evidence.md)."""
    model, _ = PRESETS[name]
    cfg = compose_preset(name)
    params = {key: str(value).split(",") for key, value in cfg.hydra.sweeper.params.items()}
    assert len(params["seed"]) >= 3
    assert cfg.trainer.precision in ("32-true", "bf16-mixed")  # never `auto`: it differs between machines
    assert cfg.ablation.preset == name and cfg.ablation.holds_equal
    assert cfg.ablation.primary_metric in TASKS[model].hparam_metrics
    swept = {hparam_key(key): [v.lower() for v in values] for key, values in params.items()}
    for part in cfg.ablation.reference.split(","):
        key, _, value = part.partition("=")
        assert value.lower() in swept[key], f"reference {part} is not one of the sweep's values {swept.get(key)}"
    for key in (cfg.ablation.compare_within or "").split(","):
        assert not key or key in swept


def test_batch_size_presets_hold_images_or_steps_equal_as_they_say():
    images = compose_preset("bn_vs_gn_small_batch")
    assert images.trainer.max_steps == -1 and images.trainer.max_epochs > 0  # epochs decide: equal images
    assert images.ablation.holds_equal.startswith("images seen")
    steps = compose_preset("bn_vs_gn_small_batch_equal_steps")
    assert steps.trainer.max_steps > 0 and steps.trainer.max_epochs == -1
    assert steps.ablation.holds_equal.startswith("optimizer steps")
    assert "data.batch_size" in images.hydra.sweeper.params and images.ablation.compare_within == "data/batch_size"


def test_redundant_none_affine_variant_is_skipped():
    from stylenorm.config_checks import skip_reason

    cfg = compose_preset("ablation_autoencoder", "norm=none", "norm.affine=true")
    assert "no norm layers" in skip_reason(cfg)
    assert skip_reason(compose_preset("ablation_autoencoder", "norm=none")) is None
    # a whole sweep that lists the skipped grid point: tests/test_sweep_summary.py


def test_paper_presets_restore_the_papers_settings():
    cyclegan = compose_preset("cyclegan_paper", "data.root=horse2zebra")
    assert (cyclegan.model.generator.ngf, cyclegan.model.generator.n_blocks) == (64, 9)
    assert (cyclegan.data.image_size, cyclegan.data.load_size, cyclegan.data.batch_size) == (256, 286, 1)
    assert (cyclegan.trainer.max_epochs, cyclegan.model.n_epochs + cyclegan.model.n_epochs_decay) == (200, 200)
    style = compose_preset("style_paper", "data.root=coco", "data.style_image=candy.jpg")
    assert (style.data.image_size, style.data.batch_size, style.trainer.max_epochs) == (256, 4, 2)
    assert style.model.vgg_weights == "imagenet" and style.model.content_weight == 1e5


#: preset -> the documented override that puts the learned norms (batch-instance, Nam & Kim 2018;
#: switchable, Luo et al. 2018) next to its norms: the same preset, so runs logged into the folder of
#: its sweep join its study, and one report tests them against its reference.
LEARNED_NORMS = {
    "ablation_autoencoder": "norm=batch_instance,switchable norm.affine=true",
    "ablation_cyclegan": "norm=batch_instance,switchable norm.affine=false",
    "ablation_style": "norm=batch_instance,switchable norm.affine=true",
    "bn_vs_gn_small_batch": "norm=batch_instance,switchable",
    "bn_vs_gn_small_batch_equal_steps": "norm=batch_instance,switchable",
    "bn_eval_gap": "norm=batch_instance,switchable",
}
LEARNED_LAYERS = {"batch_instance": "BatchInstanceNorm2d", "switchable": "SwitchableNorm2d"}


@pytest.mark.integration
@pytest.mark.parametrize("name", list(LEARNED_NORMS))
def test_learned_norms_join_each_preset_as_documented(name):
    from omegaconf import OmegaConf

    from stylenorm.networks import build_networks
    from stylenorm.nn.norm import is_norm_layer

    override = LEARNED_NORMS[name]
    assert override in (REPO_ROOT / "configs" / "experiment" / f"{name}.yaml").read_text()  # documented as tested
    kinds, *rest = override.split()
    plain = compose_preset(name)
    reference = dict(part.split("=") for part in plain.ablation.reference.split(","))
    for kind in kinds.partition("=")[2].split(","):
        cfg = compose_preset(name, f"norm={kind}", *rest)
        assert cfg.ablation.preset == name  # the preset's study, so its reference is theirs
        if "norm/affine" in reference:  # compared at the reference's affine setting
            assert str(cfg.norm.affine).lower() == reference["norm/affine"].lower()
        networks = build_networks(OmegaConf.to_container(cfg.model, resolve=True))
        layers = {type(m).__name__ for network in networks.values() for m in network.modules() if is_norm_layer(m)}
        assert layers == {LEARNED_LAYERS[kind]}, layers


#: Every preset that trains on the embedded data (the CPU study), with the arm a sweep adds.
EMBEDDED = [
    *[[name] for name in PRESETS],
    ["flicker_autoencoder"],
    ["flicker_adain"],
    *[["cin_vs_separate", f"+experiment/cin_arm={arm}"] for arm in ("conditional", "separate_0")],
]


@pytest.mark.integration
@pytest.mark.parametrize("stage", ["shared", "tune"])
@pytest.mark.parametrize("preset", EMBEDDED, ids=lambda preset: preset[0] + preset[-1][-1])
def test_a_validation_interval_in_batches_fits_an_epoch_of_the_training_split(preset, stage):
    """Lightning refuses an integer ``val_check_interval`` longer than an epoch unless
    ``check_val_every_n_epoch`` is null; the held-out split made the study's epochs short (19 batches)."""
    name, *overrides = preset
    cfg = compose_preset(name, *overrides)
    if "protocol" in cfg:
        cfg = compose_preset(name, *overrides, f"protocol={stage}")
    interval, every = cfg.trainer.val_check_interval, cfg.trainer.check_val_every_n_epoch
    if not isinstance(interval, int) or every is None:
        return  # a fraction of an epoch, or batches counted across epochs: any epoch length works
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    batches = len(datamodule.train_dataloader())
    assert interval <= batches, f"{name}: val_check_interval {interval} > {batches} training batches per epoch"
