"""Hydra configs compose for every model x norm x affine, and drive the networks they describe."""

import json
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from conftest import REPO_ROOT
from stylenorm.networks import MODEL_NAMES, build_networks
from stylenorm.nn.norm import NORM_KINDS, STYLE_CONDITIONED_KINDS, is_norm_layer

CONFIG_DIR = str(REPO_ROOT / "configs")


def compose_train(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides)


def test_norm_group_has_one_file_per_kind():
    assert {p.stem for p in (REPO_ROOT / "configs" / "norm").glob("*.yaml")} == set(NORM_KINDS)


@pytest.mark.parametrize("model", MODEL_NAMES)
@pytest.mark.parametrize("kind", [k for k in NORM_KINDS if k not in STYLE_CONDITIONED_KINDS])
@pytest.mark.parametrize("affine", ["true", "false"])
def test_every_model_norm_affine_combination_composes_and_builds(model, kind, affine):
    cfg = compose_train([f"model={model}", f"norm={kind}", f"norm.affine={affine}"])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    assert model_cfg["name"] == model and model_cfg["norm"]["kind"] == kind
    # shrink the networks so building 60 combinations stays fast; the norm is what is under test
    for section, key in (
        ("generator", "ngf"),
        ("discriminator", "ndf"),
        ("network", "base_channels"),
        ("network", "width"),
    ):
        if section in model_cfg and key in model_cfg[section]:
            model_cfg[section][key] = 8
    networks = build_networks(model_cfg)
    assert (
        set(networks)
        == {
            "style": {"transformer"},
            "cyclegan": {"G_AB", "G_BA", "D_A", "D_B"},
            "autoencoder": {"autoencoder"},
            "adain": {"adain"},  # the decoder's norm; the fixed VGG19 encoder has none
        }[model]
    )
    for net in networks.values():
        layers = [m for m in net.modules() if is_norm_layer(m)]
        assert (len(layers) == 0) == (kind == "none")
        assert all(layer.affine is (affine == "true") for layer in layers)


def test_null_affine_means_each_networks_published_default():
    cfg = compose_train(["model=cyclegan"])
    assert cfg.norm.affine is None
    assert build_networks(OmegaConf.to_container(cfg.model, resolve=True))["G_AB"].norm_spec.affine is False
    cfg = compose_train(["model=style"])
    assert build_networks(OmegaConf.to_container(cfg.model, resolve=True))["transformer"].norm_spec.affine is True


def test_contract_paths():
    cfg = compose_train([])
    assert (cfg.paths.data_dir, cfg.paths.log_dir, cfg.paths.checkpoint_dir) == ("data", "logs", "checkpoints")


def run_train(*args, cwd=REPO_ROOT):
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.integration
def test_cfg_job_prints_a_readable_config():
    result = run_train("model=autoencoder", "norm=group", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    printed = OmegaConf.create(result.stdout)
    assert printed.model.name == "autoencoder" and printed.norm.kind == "group"
    assert printed.norm.num_groups == "auto"


@pytest.mark.integration
def test_train_command_runs_offline_and_writes_logs_and_checkpoints(tmp_path):
    """The real CLI, as a user types it (tiny sizes so it takes seconds)."""
    result = run_train(
        "model=autoencoder",
        "norm=batch",
        "model.network.base_channels=8",
        "data.image_size=32",
        "data.batch_size=4",
        "trainer.max_steps=3",
        "trainer.enable_progress_bar=false",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"paths.checkpoint_dir={tmp_path / 'checkpoints'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Hydra's run folder (logs/runs/<time>_<model>-<norm>) holds the resolved config, the metrics and the
    # result; the checkpoints mirror it under checkpoints/
    (run_dir,) = (tmp_path / "logs" / "runs").glob("*_autoencoder-batch")
    for name in (".hydra/config.yaml", "metrics.csv", "result.json", "train.log"):
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "result.json").read_text())["provenance"]["cpu_flags"] is not None
    checkpoint = tmp_path / "checkpoints" / run_dir.relative_to(tmp_path / "logs") / "last.ckpt"
    assert checkpoint.is_file()
    assert f"ckpt_path={checkpoint}" in result.stdout + result.stderr  # the resume hint, pasteable unquoted
    link = next(line for line in (result.stdout + result.stderr).splitlines() if "pinnedCards" in line)
    pins = json.loads(parse_qs(urlsplit(link.split()[2]).query)["pinnedCards"][0])
    assert pins[0] == {"plugin": "scalars", "tag": "val/psnr"}  # the autoencoder's answer, pinned first
    assert (tmp_path / "data" / "embedded" / "autoencoder" / "MANIFEST.json").is_file()


@pytest.mark.integration
def test_help_lists_the_groups_and_examples():
    result = run_train("--help")
    assert result.returncode == 0, result.stderr
    for expected in (
        "model: adain, autoencoder, cyclegan, style",
        "norm: batch, batch_instance, conditional_instance, group, instance, layer, none, switchable, sync_batch",
        "tensorboard --logdir logs",
        "data=unpaired data.root=",
    ):
        assert expected in result.stdout, expected


@pytest.mark.integration
def test_bad_group_count_fails_with_a_message_naming_the_layer(tmp_path):
    result = run_train("model=autoencoder", "norm=group", "norm.num_groups=5", f"paths.log_dir={tmp_path}")
    assert result.returncode != 0
    assert "enc1.norm: norm.num_groups=5 does not divide its 32 channels" in result.stderr
