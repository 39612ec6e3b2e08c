"""Runs stay apart and repeat: every job of a sweep has its own folder, the same seed gives the same
run, and a checkpoint carries every random state (torch, numpy, Python, the CycleGAN image pool).

The end-to-end check is a real ``python train.py -m`` in a subprocess, as a user runs a sweep.
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import REPO_ROOT, compose_offline_run, run_folders
from stylenorm.callbacks import collect_random_states, restore_random_states
from stylenorm.run_record import hparam_key, varied_hparams
from stylenorm.tasks.image_pool import ImagePool

TINY_CYCLEGAN = [
    "model=cyclegan",
    "data.image_size=32",
    "data.load_size=36",
    "model.generator.ngf=8",
    "model.generator.n_blocks=1",
    "model.discriminator.ndf=8",
    "model.pool_size=3",  # full after 3 iterations, so the pool's coin flips matter within the run
    "trainer.max_steps=30",
    "trainer.val_check_interval=10",
    "trainer.log_every_n_steps=2",
    "trainer.enable_progress_bar=false",
    "trainer.accelerator=cpu",
    "callbacks.norm_statistics.every_n_steps=10",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """``python train.py -m seed=7,7``: two jobs with the same name and seed, one process."""
    root = tmp_path_factory.mktemp("sweep")
    command = [
        sys.executable,
        str(REPO_ROOT / "train.py"),
        "-m",
        "seed=7,7",
        *TINY_CYCLEGAN,
        f"paths.data_dir={root / 'data'}",
        f"paths.log_dir={root / 'logs'}",
        f"paths.checkpoint_dir={root / 'checkpoints'}",
    ]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.mark.integration
def test_every_job_of_a_sweep_gets_its_own_folders(sweep):
    logs = run_folders(sweep / "logs")
    assert [p.name for p in logs] == ["0_seed-7", "1_seed-7"]  # same overrides: the job number tells them apart
    assert len({p.parent for p in logs}) == 1  # one sweep folder
    checkpoints = [sweep / "checkpoints" / p.relative_to(sweep / "logs") for p in logs]  # the mirror
    for folder in checkpoints:
        assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt"]  # no last-v1.ckpt: nothing overwritten
    for folder in logs:
        # one run's validations only (one scheduled after 10 iterations, then the final one), not
        # both jobs' interleaved
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        steps = [e.step for e in events.Scalars("val/cycle_l1") if e.value == e.value]  # NaN placeholder left out
        assert len(steps) == 2 and steps == sorted(set(steps))
        assert json.loads((folder / "result.json").read_text())["status"] == "finished"


@pytest.mark.integration
def test_the_same_seed_gives_the_same_run(sweep):
    first, second = (json.loads((p / "result.json").read_text()) for p in run_folders(sweep / "logs"))
    assert first["global_step"] == second["global_step"] == 30
    assert first["metrics"] == second["metrics"]  # every final scalar, bit for bit
    series = []
    for folder in run_folders(sweep / "logs"):
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        series.append([(e.step, e.value) for e in events.Scalars("train/D_A")])
    assert series[0] == series[1] and len(series[0]) >= 3


@pytest.mark.integration
def test_checkpoints_hold_random_states_and_image_pools(sweep):
    first = run_folders(sweep / "logs")[0].relative_to(sweep / "logs")
    checkpoint = torch.load(sweep / "checkpoints" / first / "last.ckpt", weights_only=True)
    states = checkpoint["callbacks"]["RandomStateCheckpoint"]
    assert set(states) == {"torch", "torch.cuda", "numpy", "python"}
    pools = checkpoint["image_pools"]
    assert pools["A"]["size"] == 3 and pools["A"]["images"].shape == (3, 3, 32, 32)


@pytest.mark.integration
def test_hparams_record_seed_precision_hardware(sweep):
    hparams = yaml.safe_load((run_folders(sweep / "logs")[0] / "hparams.yaml").read_text())
    assert hparams["seed"] == 7
    assert hparams["trainer/precision"] in ("32-true", "bf16-mixed")
    assert hparams["run/hardware"].startswith("cpu: ") and "threads" in hparams["run/hardware"]
    assert hparams["trainer/max_steps"] == 30
    assert hparams["trainer/optimizer_steps_per_batch"] == 2  # CycleGAN: G and D per batch


@pytest.mark.integration
def test_hparams_tab_shows_the_swept_keys_and_the_norm(sweep):
    folder = run_folders(sweep / "logs")[0]
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    content = events.SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content
    infos = plugin_data_pb2.HParamsPluginData.FromString(content).experiment.hparam_infos
    # every key the command line set that the HPARAMS record holds (data.load_size is not one), and the norm
    assert {info.name for info in infos} == {
        "seed",
        "model",
        "norm/kind",
        "norm/affine",
        "data/image_size",
        "generator/ngf",
        "generator/n_blocks",
        "discriminator/ndf",
        "pool_size",
        "trainer/max_steps",
    }
    assert "beta1" in yaml.safe_load((folder / "hparams.yaml").read_text())  # the constants stay in hparams.yaml


def test_override_keys_map_to_hparams_names():
    assert hparam_key("norm") == "norm/kind"
    assert hparam_key("norm.affine") == "norm/affine"
    assert hparam_key("model.generator.ngf") == "generator/ngf"
    assert hparam_key("++data.batch_size") == "data/batch_size"
    assert varied_hparams(["seed=1", "norm=batch", "~callbacks.norm_statistics"]) == {"seed", "norm/kind"}


def test_image_pool_follows_the_seed_and_round_trips():
    def draws(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        pool = ImagePool(size=2)
        return [pool.query(torch.full((1, 3, 2, 2), float(i))) for i in range(12)]

    assert all(torch.equal(a, b) for a, b in zip(draws(3), draws(3), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(draws(3), draws(4), strict=True))

    torch.manual_seed(0)
    pool = ImagePool(size=2)
    for i in range(5):
        pool.query(torch.full((1, 3, 2, 2), float(i)))
    restored = ImagePool(size=2)
    restored.load_state_dict(pool.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(pool.images, restored.images, strict=True))
    with pytest.raises(ValueError, match=r"model.pool_size=2"):
        ImagePool(size=5).load_state_dict(pool.state_dict())


def test_random_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    torch.save({"states": collect_random_states()}, tmp_path / "s.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_random_states(torch.load(tmp_path / "s.pt", weights_only=True)["states"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0])
    assert np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]


@pytest.mark.integration
def test_a_run_ending_on_a_validation_is_not_validated_twice(tmp_path, monkeypatch):
    """The final validation runs only when training stopped after the last scheduled one, so each
    learning curve has one point per validation of distinct weights."""
    from stylenorm.train import run

    cfg = compose_offline_run(
        tmp_path,
        "model=autoencoder",
        "data.image_size=16",
        "model.network.base_channels=4",
        "+trainer.limit_train_batches=3",
        "trainer.val_check_interval=1.0",
        "trainer.max_steps=6",  # two epochs of 3 batches: validations after both, none extra
    )
    run(cfg)
    (folder,) = run_folders(tmp_path / "logs")
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    finite = [e for e in events.Scalars("val/psnr") if e.value == e.value]
    assert len(finite) == 2


def test_run_folders_paste_into_ckpt_path_unquoted():
    """Every character Hydra's job naming puts in a folder name parses as a plain override value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = "checkpoints/multirun/2026-12-05_09-00-00/3_data.batch_size-2+norm-group+seed-1/last.ckpt"
    (override,) = OverridesParser.create().parse_overrides([f"ckpt_path={path}"])
    assert override.value() == path


def test_a_checkpoint_maps_back_to_the_run_folder_it_came_from(tmp_path):
    from stylenorm.run_folder import checkpoint_dir_of, run_dir_of_checkpoint

    logs, checkpoints = tmp_path / "logs", tmp_path / "checkpoints"
    run_dir = logs / "runs" / "2026-12-05_09-00-00_autoencoder-group"
    assert checkpoint_dir_of(run_dir, logs, checkpoints) == checkpoints / run_dir.relative_to(logs)
    assert run_dir_of_checkpoint(str(checkpoints / run_dir.relative_to(logs) / "last.ckpt"), logs, checkpoints) is None
    run_dir.mkdir(parents=True)  # only an existing run folder is continued
    found = run_dir_of_checkpoint(str(checkpoints / run_dir.relative_to(logs) / "last.ckpt"), logs, checkpoints)
    assert found == run_dir
    assert run_dir_of_checkpoint(str(tmp_path / "elsewhere.ckpt"), logs, checkpoints) is None
    assert checkpoint_dir_of(tmp_path / "outside", logs, checkpoints) == tmp_path / "outside" / "checkpoints"
