"""A run that goes non-finite stops at once, says at which step and why it may have happened, is
recorded as diverged (the report lists it, never ranks it), leaves no NaN checkpoint and exits 1."""

import json
import logging

import pytest
import torch

from conftest import compose_offline_run
from stylenorm.callbacks import DivergenceGuard
from stylenorm.train import run

TINY = {
    "autoencoder": ["model.network.base_channels=8"],
    "cyclegan": ["model.generator.ngf=8", "model.generator.n_blocks=1", "model.discriminator.ndf=8"],
}


@pytest.mark.integration
@pytest.mark.parametrize("model", ["autoencoder", "cyclegan"])  # automatic and manual optimization
def test_a_diverging_run_stops_is_recorded_and_exits_nonzero(tmp_path, caplog, model):
    cfg = compose_offline_run(
        tmp_path, f"model={model}", "norm=none", "model.lr=1e30", "data.image_size=32", "data.batch_size=4",
        *TINY[model], "trainer.max_steps=200",
        "callbacks.divergence_guard.check_weights_every_n_steps=1", "callbacks.model_checkpoint.every_n_train_steps=1",
    )  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="stylenorm.callbacks.divergence"), pytest.raises(SystemExit) as exit:
        run(cfg)
    assert exit.value.code == 1
    assert "Training diverged:" in caplog.text and "learning rate too high" in caplog.text
    (result_file,) = (tmp_path / "logs").rglob("result.json")
    result = json.loads(result_file.read_text())
    assert result["status"] == "diverged" and "at step" in result["error"]
    assert result["global_step"] < 20, "it should stop at the first non-finite value, not train on"
    checkpoints = list((tmp_path / "checkpoints").rglob("*.ckpt"))  # one a step (every_n_train_steps=1)
    assert any(c.name == "last.ckpt" for c in checkpoints)
    for checkpoint in checkpoints:  # the last good weights survive; no NaN checkpoint replaced them
        state = torch.load(checkpoint, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), checkpoint


@pytest.mark.integration
def test_the_guard_does_not_stop_a_sound_run_and_rejects_a_bad_setting(tmp_path):
    cfg = compose_offline_run(
        tmp_path, "model=autoencoder", "data.image_size=32", "data.batch_size=4",
        "model.network.base_channels=8", "trainer.max_steps=3",
    )  # fmt: skip
    run(cfg)
    (result_file,) = (tmp_path / "logs").rglob("result.json")
    assert json.loads(result_file.read_text())["status"] == "finished"
    with pytest.raises(ValueError, match="check_weights_every_n_steps must be a positive int"):
        DivergenceGuard(check_weights_every_n_steps=0)
