"""Smaller cases of issue 26 (case 5): weights that explode while staying finite stop the run, stylize
warns about a single-colour output, and data.style_images works on the embedded content."""

import logging

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import compose_offline_run
from reference_networks import FastNeuralStyleNet
from stylenorm.callbacks import DivergenceGuard
from stylenorm.config_checks import fill_num_styles
from stylenorm.inference.cli import main as stylize_main
from stylenorm.train import instantiate


class BatchNormRegression(pl.LightningModule):
    """Linear -> batch norm: the loss cannot see the linear weights' scale, so at a huge learning
    rate they explode to ~1e30 while loss, gradients and weights all stay finite."""

    def __init__(self, lr: float):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8, affine=False))

    def training_step(self, batch, batch_idx):
        (x,) = batch
        loss = (self.net(x) - x).pow(2).mean()
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def train_dataloader(self):
        data = torch.utils.data.TensorDataset(torch.randn(64, 8, generator=torch.Generator().manual_seed(0)))
        return torch.utils.data.DataLoader(data, batch_size=16)


@pytest.mark.integration
@pytest.mark.parametrize(("lr", "stops"), [(1e30, True), (1e-2, False)])
def test_finite_but_exploding_weights_stop_the_run(tmp_path, caplog, lr, stops):
    guard = DivergenceGuard(check_weights_every_n_steps=1)
    trainer = pl.Trainer(
        default_root_dir=tmp_path, max_steps=8, accelerator="cpu", callbacks=[guard], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    model = BatchNormRegression(lr)
    with caplog.at_level(logging.ERROR, logger="stylenorm.callbacks.divergence"):
        trainer.fit(model)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.isfinite(weights).all()  # nothing non-finite for the older checks to see
    if stops:
        assert trainer.global_step < 8 and weights.abs().max() > 1e20
        assert "global weight norm grew to" in guard.divergence and "times its" in guard.divergence
        assert "max_weight_norm_growth=1000" in caplog.text
    else:
        assert trainer.global_step == 8 and guard.divergence is None


def test_the_growth_limit_is_a_number_above_one():
    for bad in (0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="max_weight_norm_growth must be a number > 1"):
            DivergenceGuard(max_weight_norm_growth=bad)


def test_stylize_warns_when_an_output_is_one_flat_colour(tmp_path, capsys):
    torch.manual_seed(0)
    network = FastNeuralStyleNet()
    with torch.no_grad():  # what a diverged checkpoint does: every pixel saturates to black
        network.deconv3.conv2d.weight.zero_()
        network.deconv3.conv2d.bias.fill_(-1e30)
    torch.save(network.state_dict(), tmp_path / "diverged.pth")
    pixels = np.random.default_rng(0).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    argv = ["-c", str(tmp_path / "diverged.pth"), "-i", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out.png")]
    assert stylize_main(argv) == 0
    error = capsys.readouterr().err
    assert f"warning: {tmp_path / 'out.png'} is one flat colour, RGB (0, 0, 0), though photo.png is not" in error
    assert "may have diverged" in error


def test_style_images_on_the_embedded_content_decide_the_number_of_styles(tmp_path):
    for name, colour in (("a.jpg", (200, 40, 40)), ("b.jpg", (40, 40, 200))):
        Image.new("RGB", (32, 32), colour).save(tmp_path / name)
    cfg = compose_offline_run(
        tmp_path, "model=style", "norm=conditional_instance", "model.vgg_weights=random",
        f"data.style_images=[{tmp_path / 'a.jpg'},{tmp_path / 'b.jpg'}]",
    )  # fmt: skip
    fill_num_styles(cfg)
    assert cfg.norm.num_styles == 2
    datamodule = instantiate(cfg.data)
    assert [p.name for p in datamodule.style_images] == ["a.jpg", "b.jpg"]
    assert len(datamodule.style_image_tensors()) == 2
