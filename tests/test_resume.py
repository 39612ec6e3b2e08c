"""Resuming checks the checkpoint against the config; ``init_from`` fine-tunes into a new run.

Issue: ``python train.py model=autoencoder norm=layer ckpt_path=<an instance-norm run's last.ckpt>``
exited 0, overwrote the instance-norm run's ``last.ckpt`` and its saved settings now said ``layer``.
"""

import hashlib
from pathlib import Path

import pytest
import torch
from omegaconf import open_dict

from conftest import compose_offline_run
from stylenorm.resume import SETTINGS_KEY, continue_in_place, load_initial_weights
from stylenorm.train import run

pytestmark = pytest.mark.integration

TINY = {
    "autoencoder": ["model=autoencoder", "model.network.base_channels=8", "data.batch_size=2"],
    "cyclegan": ["model=cyclegan", "model.generator.ngf=8", "model.generator.n_blocks=2", "model.discriminator.ndf=8"],
    "style": ["model=style", "model.vgg_weights=random", "model.network.num_residual_blocks=1", "data.batch_size=2"],
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


def compose(root: Path, data_dir: Path, model: str, *overrides: str):
    return compose_offline_run(
        root, *TINY[model], "data.image_size=32", "trainer.limit_val_batches=0", *overrides, data_dir=data_dir
    )


def trained(root: Path, data_dir: Path, model: str = "autoencoder", *overrides: str):
    cfg = compose(root, data_dir, model, "trainer.max_steps=2", *overrides)
    run(cfg)
    return cfg, Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folders(root: Path) -> list[str]:
    """Every file under the run and checkpoint folders, with its content's digest."""
    files = [p for p in root.rglob("*") if p.is_file() and "data" not in p.relative_to(root).parts[:1]]
    return sorted(f"{p.relative_to(root)} {digest(p)}" for p in files)


def test_resume_with_another_norm_is_refused_before_anything_is_written(tmp_path, data_dir):
    cfg, last = trained(tmp_path, data_dir)
    config = Path(cfg.paths.run_dir) / ".hydra" / "config.yaml"
    before = (digest(last), config.read_text(), folders(tmp_path))
    resumed = compose(tmp_path, data_dir, "autoencoder", "norm=layer", "trainer.max_steps=4", f"ckpt_path={last}")
    with pytest.raises(
        ValueError, match=r"(?s)model\.norm\.kind: 'instance' in the checkpoint, 'layer' now.*init_from="
    ):
        run(resumed)
    assert (digest(last), config.read_text(), folders(tmp_path)) == before


def test_a_sweep_job_meeting_another_sweeps_checkpoint_names_the_folder_fix(tmp_path, data_dir):
    """The same preset swept under two paths.log_dir shares checkpoint folders: the second sweep's job must
    refuse the first one's checkpoint before writing anything, and say how to keep both."""
    _, last = trained(tmp_path, data_dir)
    job = compose(tmp_path, data_dir, "autoencoder", "norm=layer")
    with open_dict(job):
        job.paths.run_dir = str(tmp_path / "other_log_dir" / "multirun" / "0_seed-0")
        job.paths.run_checkpoint_dir = str(last.parent)
    before = digest(last)
    with pytest.raises(ValueError, match=r"(?s)model\.norm\.kind: 'instance' in the checkpoint.*paths\.checkpoint_dir"):
        continue_in_place(job)
    assert digest(last) == before


def test_resume_with_another_batch_size_or_seed_is_refused(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir)
    for override, key in (("data.batch_size=4", "data.batch_size"), ("seed=3", "seed")):
        resumed = compose(tmp_path, data_dir, "autoencoder", override, f"ckpt_path={last}")
        with pytest.raises(ValueError, match=rf"{key}: 2 in the checkpoint, 4 now|{key}: 0 in the checkpoint, 3 now"):
            run(resumed)


def test_resume_with_another_model_is_refused_with_the_differences(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir, "cyclegan")
    resumed = compose(tmp_path, data_dir, "autoencoder", f"ckpt_path={last}")
    with pytest.raises(ValueError, match=r"model\._target_: 'stylenorm\.tasks\.CycleGANTask' in the checkpoint"):
        run(resumed)


def test_checkpoints_from_before_the_settings_were_stored_are_checked_by_hyperparameters(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir)
    old = torch.load(last, weights_only=True)
    del old[SETTINGS_KEY]
    torch.save(old, last)
    resumed = compose(tmp_path, data_dir, "autoencoder", "norm=group", f"ckpt_path={last}")
    with pytest.raises(ValueError, match=r"model\.norm\.kind: 'instance' in the checkpoint, 'group' now"):
        run(resumed)


def test_a_matching_resume_continues_and_keeps_the_original_config(tmp_path, data_dir):
    cfg, last = trained(tmp_path, data_dir)
    config = Path(cfg.paths.run_dir) / ".hydra" / "config.yaml"
    original = config.read_text()
    # Run length, speed switches and worker counts may change on resume: they do not change what is measured.
    resumed = compose(
        tmp_path, data_dir, "autoencoder", "trainer.max_steps=4", "speed.channels_last=false", f"ckpt_path={last}"
    )
    run(resumed)
    assert torch.load(last, weights_only=True)["global_step"] == 4
    assert config.read_text() == original
    (resume_config,) = (Path(cfg.paths.run_dir) / ".hydra").glob("resume_*/config.yaml")
    assert "max_steps: 4" in resume_config.read_text()


def test_a_truncated_checkpoint_is_named(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir)
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"broken\.ckpt is not a readable training checkpoint"):
        run(compose(tmp_path, data_dir, "autoencoder", f"ckpt_path={broken}"))


def test_ckpt_path_and_init_from_together_are_refused(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir)
    with pytest.raises(ValueError, match="Choose one"):
        run(compose(tmp_path, data_dir, "autoencoder", f"ckpt_path={last}", f"init_from={last}"))


def test_init_from_starts_a_new_named_run_from_the_weights(tmp_path, data_dir, keep_task):
    cfg, last = trained(tmp_path, data_dir)
    source, written = torch.load(last, weights_only=True)["state_dict"], digest(last)
    tuned = compose(tmp_path, data_dir, "autoencoder", "trainer.max_steps=0", f"init_from={last}")
    run(tuned)
    assert tuned.paths.run_dir != cfg.paths.run_dir  # a run of its own ...
    assert tuned.paths.run_checkpoint_dir != cfg.paths.run_checkpoint_dir
    saved = (Path(tuned.paths.run_dir) / ".hydra" / "config.yaml").read_text()
    assert f"init_from: {last}" in saved  # ... that records where its weights came from
    weights = keep_task["task"].state_dict()
    assert weights.keys() == source.keys()
    for key, value in source.items():
        torch.testing.assert_close(weights[key], value, rtol=0, atol=0, msg=key)
    assert digest(last) == written  # the source run is never written to


def test_init_from_a_different_architecture_names_the_keys_and_trains_nothing(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir)
    before = sorted((tmp_path / "checkpoints").rglob("*.ckpt"))
    tuned = compose(tmp_path, data_dir, "autoencoder", "norm=batch", f"init_from={last}")
    with pytest.raises(ValueError, match=r"does not fit this network: missing \(\d+\): .*running_mean"):
        run(tuned)
    assert sorted((tmp_path / "checkpoints").rglob("*.ckpt")) == before


def test_style_checkpoints_load_strictly_apart_from_the_rebuilt_vgg(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir, "style")
    state = torch.load(last, weights_only=True)
    assert not any(k.startswith("perceptual.") for k in state["state_dict"])
    run(compose(tmp_path, data_dir, "style", "trainer.max_steps=3", f"ckpt_path={last}"))  # VGG keys are filled in
    state = torch.load(last, weights_only=True)
    dropped = next(k for k in state["state_dict"] if k.startswith("transformer."))
    del state["state_dict"][dropped]
    torch.save(state, last)
    with pytest.raises(RuntimeError, match=rf"Missing key\(s\) in state_dict: \"{dropped}\""):
        run(compose(tmp_path, data_dir, "style", "trainer.max_steps=4", f"ckpt_path={last}"))


def test_load_initial_weights_skips_only_the_declared_prefixes(tmp_path, data_dir):
    _, last = trained(tmp_path, data_dir, "style")
    from stylenorm.tasks import StyleTransferTask

    task = StyleTransferTask(vgg_weights="random", network={"num_residual_blocks": 1})
    load_initial_weights(task, last)
    source = torch.load(last, weights_only=True)["state_dict"]
    for key, value in source.items():
        torch.testing.assert_close(task.state_dict()[key], value, rtol=0, atol=0)
