"""Run names say what a run measures; versions never collide; resumes find their run."""

from pathlib import Path

import pytest

from stylenorm.nn.norm import NormSpec
from stylenorm.run_naming import name_from_checkpoint, next_version, run_name, version_from_checkpoint

IGNORES = ["model", "norm", "paths.", "trainer.max_steps", "data.root"]


@pytest.mark.parametrize(
    ("model", "norm", "overrides", "expected"),
    [
        ("cyclegan", NormSpec("instance"), [], "cyclegan/instance-affine_false"),
        ("style", NormSpec("instance"), [], "style/instance-affine_true"),
        (
            "autoencoder",
            NormSpec("batch", affine=False),
            ["norm=batch", "norm.affine=false"],
            "autoencoder/batch-affine_false",
        ),
        (
            "autoencoder",
            NormSpec("group", affine=True, num_groups=8),
            [
                "model=autoencoder",
                "norm=group",
                "norm.num_groups=8",
                "data.batch_size=2",
                "trainer.max_steps=3",
                "paths.log_dir=/tmp/x",
                "data.root=/data/photos",
            ],
            "autoencoder/group-affine_true,num_groups=8,batch_size=2",
        ),
        (
            "cyclegan",
            NormSpec("layer"),
            ["model.generator.upsampling=resize_conv", "+data.extra=a/b c"],
            "cyclegan/layer-affine_false,generator.upsampling=resize_conv,extra=a_b_c",
        ),
    ],
)
def test_run_name(model, norm, overrides, expected):
    assert run_name(model, norm, overrides, IGNORES) == expected


def test_model_keys_are_not_swallowed_by_the_model_group_ignore():
    name = run_name("cyclegan", NormSpec("instance"), ["model.lambda_cycle=5"], ["model", "norm"])
    assert name == "cyclegan/instance-affine_false,lambda_cycle=5"


def test_next_version_skips_versions_taken_in_logs_or_checkpoints(tmp_path: Path):
    logs, checkpoints = tmp_path / "logs", tmp_path / "checkpoints"
    assert next_version(logs, checkpoints) == "version_0"
    (logs / "version_0").mkdir(parents=True)
    (checkpoints / "version_3").mkdir(parents=True)  # e.g. logs deleted by hand, checkpoints kept
    assert next_version(logs, checkpoints) == "version_4"


def test_resume_paths_name_their_run(tmp_path: Path):
    ckpt = tmp_path / "checkpoints" / "style" / "batch-affine_true,batch_size=2" / "version_7" / "last.ckpt"
    assert version_from_checkpoint(ckpt) == "version_7"
    assert name_from_checkpoint(ckpt, tmp_path / "checkpoints") == "style/batch-affine_true,batch_size=2"
    assert name_from_checkpoint(tmp_path / "elsewhere" / "version_1" / "x.ckpt", tmp_path / "checkpoints") is None
    assert version_from_checkpoint(tmp_path / "model.ckpt") is None
