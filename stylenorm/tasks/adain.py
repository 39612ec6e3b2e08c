"""AdaIN style transfer training (Huang & Belongie 2017, Sec. 6) with the paper's port's defaults: the fixed encoder
is stored in checkpoints, only the decoder learns. docs/modules.md, docs/training.md.
"""

from __future__ import annotations

from typing import Any

import torch

from stylenorm.losses.adain_loss import AdaINLoss
from stylenorm.networks.adain import ENCODER_LAYERS
from stylenorm.networks.vgg import load_adain_encoder_weights
from stylenorm.tasks.base import ImageTranslationTask
from stylenorm.tasks.probes import illumination_shift, train_eval_gap


class AdaINTask(ImageTranslationTask):
    """Encoder + AdaIN + decoder; args mirror ``configs/model/adain.yaml``."""

    hparam_metrics = ("val/content", "val/style", "val/total", "val/contrast_invariance_l1", "val/bn_train_eval_gap")
    main_network_name = "adain"

    def __init__(
        self,
        network: dict[str, Any] | None = None,
        name: str = "adain",
        encoder_weights: str = "imagenet",
        content_weight: float = 1.0,
        style_weight: float = 10.0,
        lr: float = 1e-4,
        lr_decay: float = 5e-5,
        **common: Any,
    ):
        super().__init__(**common)
        # Loading here makes a missing `imagenet` file fail before any training starts.
        load_adain_encoder_weights(self.adain.encoder, encoder_weights)
        self.weights_sources = {"encoder_weights_source": self.adain.encoder.weights_source}
        self.loss = AdaINLoss(content_weight, style_weight)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Stylized [0, 1] images (clamped) of ``content`` with ``style``."""
        return self.adain(content, style).clamp(0, 1)

    def configure_optimizers(self):
        optimizer = self.adam(self.adain.decoder.parameters(), lr=self.hparams.lr)
        decay = self.hparams.lr_decay
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + decay * step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def losses(self, content: torch.Tensor, style: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Loss terms and the decoded (unclamped) batch."""
        encoder = self.adain.encoder
        with torch.no_grad():  # the encoder is fixed: nothing before the decoder needs a gradient
            style_features = encoder.features(style, ENCODER_LAYERS)
            target = self.adain.target(encoder(content), style_features["relu4_1"])
        decoded = self.adain.decoder(target)
        return self.loss(encoder, decoded, target, style_features), decoded

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.log_train_losses(self.losses(batch["content"], batch["style"])[0], batch["content"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        content, style = batch["content"], batch["style"]
        n = content.shape[0]
        losses, decoded = self.losses(content, style)
        stylized = decoded.clamp(0, 1)
        # The AdaIN layer normalises the content features per image: a darker, flatter photo should stylize the same.
        losses["contrast_invariance_l1"] = (stylized - self(illumination_shift(content), style)).abs().mean()
        losses["bn_train_eval_gap"] = train_eval_gap(self.adain.decoder, lambda x: self(x, style), content)
        self.log_val(losses, n)
        self.collect_for_image_grid("val/content_style_stylized", [content, style, stylized])
