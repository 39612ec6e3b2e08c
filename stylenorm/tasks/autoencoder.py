"""Training of the Conv-Norm-Act autoencoder of the seed notebooks (seed 001): reconstruct the input, or the batch's
``"target"`` (``data.known_answer``), from an optionally corrupted input. docs/training.md.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from stylenorm.losses import reconstruction_loss
from stylenorm.tasks.base import ImageTranslationTask
from stylenorm.tasks.probes import illumination_shift, train_eval_gap


def corrupt(
    images: torch.Tensor, noise_std: float = 0.0, brightness: float = 0.0, contrast: float = 0.0
) -> torch.Tensor:
    """Per-image random contrast in [1-c, 1+c], brightness in [-b, b], then Gaussian noise; clamped to [0, 1]."""
    shape = (images.shape[0], 1, 1, 1)
    if contrast > 0:
        factor = 1 + contrast * (2 * torch.rand(shape, device=images.device) - 1)
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * factor + mean
    if brightness > 0:
        images = images + brightness * (2 * torch.rand(shape, device=images.device) - 1)
    if noise_std > 0:
        images = images + noise_std * torch.randn_like(images)
    return images.clamp(0, 1)


class AutoencoderTask(ImageTranslationTask):
    """Args mirror ``configs/model/autoencoder.yaml``; ``corruption`` has noise_std, brightness, contrast."""

    hparam_metrics = ("val/psnr", "val/ssim", "val/psnr_shifted", "val/ssim_shifted", "val/bn_train_eval_gap")
    main_network_name = "autoencoder"

    def __init__(
        self,
        network: dict[str, Any] | None = None,
        name: str = "autoencoder",
        loss: str = "l1",
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        weight_decay: float = 0.0,
        corruption: dict[str, float] | None = None,
        val_grid_images: int = 8,
        **common: Any,
    ):
        super().__init__(val_grid_images=val_grid_images, **common)
        self.reconstruction_loss = reconstruction_loss(loss)
        self.corruption = dict(corruption or {})
        if unknown := set(self.corruption) - {"noise_std", "brightness", "contrast"}:
            raise ValueError(
                f"Unknown model.corruption keys {sorted(unknown)}; expected noise_std, brightness, contrast."
            )
        self.psnr = PeakSignalNoiseRatio(data_range=1.0)
        self.ssim = StructuralSimilarityIndexMeasure(data_range=1.0)
        self.psnr_shifted = PeakSignalNoiseRatio(data_range=1.0)
        self.ssim_shifted = StructuralSimilarityIndexMeasure(data_range=1.0)
        self.psnr_identity_baseline = PeakSignalNoiseRatio(data_range=1.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.autoencoder(images)

    def configure_optimizers(self):
        hp = self.hparams
        return self.adam(
            self.autoencoder.parameters(), lr=hp.lr, betas=(hp.beta1, hp.beta2), weight_decay=hp.weight_decay
        )

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, target = batch["image"], batch.get("target", batch["image"])  # a known answer's, else the input
        loss = self.reconstruction_loss(self(corrupt(images, **self.corruption)), target)
        return self.log_train_losses({"total": loss}, images.shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        images, target = batch["image"], batch.get("target", batch["image"])
        n = images.shape[0]
        output = self(images)
        shifted = self(illumination_shift(images))  # the target stays the same
        gap = train_eval_gap(self.autoencoder, self, images)
        self.log_val({"loss": self.reconstruction_loss(output, target), "bn_train_eval_gap": gap}, n)
        predictions = {"psnr": output, "ssim": output, "psnr_shifted": shifted, "ssim_shifted": shifted}
        if "target" in batch:  # a known-answer task: how far is doing nothing?
            predictions["psnr_identity_baseline"] = images
        for name, prediction in predictions.items():
            self.log_metric(name, prediction, target, n)
        self.collect_for_image_grid("val/input_output", [images, output, *([target] if "target" in batch else [])])
