"""Fast style transfer training (Johnson et al. 2016) with the PyTorch fast_neural_style example's defaults; several
styles in one network with ``norm=conditional_instance`` (Dumoulin et al. 2017). docs/modules.md.
"""

from __future__ import annotations

from typing import Any

import torch

from stylenorm.losses import PerceptualLoss
from stylenorm.networks.vgg import load_vgg16_features
from stylenorm.nn.conditional_instance_norm import num_styles, set_style
from stylenorm.tasks.base import ImageTranslationTask
from stylenorm.tasks.probes import illumination_shift, train_eval_gap


class StyleTransferTask(ImageTranslationTask):
    """TransformerNet + VGG16 perceptual loss; args mirror ``configs/model/style.yaml``."""

    hparam_metrics = ("val/content", "val/style", "val/total", "val/contrast_invariance_l1", "val/bn_train_eval_gap")
    main_network_name = "transformer"
    compiled_module_names = ("transformer", "perceptual")
    # The frozen VGG is rebuilt from `vgg_weights` at start-up, so checkpoints keep the network only.
    checkpoint_excluded_prefixes = ("perceptual.",)

    def __init__(
        self,
        network: dict[str, Any] | None = None,
        name: str = "style",
        vgg_weights: str = "imagenet",
        content_layer: str = "relu2_2",
        style_layers: tuple[str, ...] | list[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        content_weight: float = 1e5,
        style_weight: float = 1e10,
        tv_weight: float = 0.0,
        lr: float = 1e-3,
        style_index: int | None = None,
        **common: Any,
    ):
        super().__init__(**common)
        # Loading VGG here makes a missing `imagenet` file fail before any training starts.
        features = load_vgg16_features(vgg_weights)
        self.weights_sources = {"vgg_weights_source": features.weights_source}
        self.perceptual = PerceptualLoss(features, content_layer, style_layers, content_weight, style_weight, tv_weight)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        """Stylize [0, 1] images; output in [0, 1] (clamped, as the example's inference does)."""
        return (self.transformer(content * 255.0) / 255.0).clamp(0, 1)

    @property
    def num_styles(self) -> int:
        """Styles the network holds: the rows of its conditional norm tables (1 for every other norm)."""
        return max(1, num_styles(self.transformer))

    def setup(self, stage: str) -> None:
        # Style Grams are computed once, here (fit and validate alike), as buffers that follow the module's device.
        datamodule = self.trainer.datamodule
        if hasattr(datamodule, "style_image_tensors"):
            images = datamodule.style_image_tensors()
        else:
            images = [datamodule.style_image_tensor()]
        if len(images) != self.num_styles:
            raise ValueError(
                f"The network holds {self.num_styles} style(s) (norm.num_styles) but the data give {len(images)} "
                f"style image(s). Leave norm.num_styles out so train.py fills it from data.style_images."
            )
        if self.hparams.style_index is not None and self.num_styles > 1:
            raise ValueError(
                f"model.style_index={self.hparams.style_index} names the one style of a one-style network; "
                f"this network holds {self.num_styles} styles and logs val/style_K for each. Drop model.style_index."
            )
        self.style_images = images
        self.perceptual.set_styles(images)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if len(self.style_images) == 1:
            self.log_image_grid("style_image", self.style_images)
        else:  # sizes may differ: one image per style, tagged with its index
            for index, image in enumerate(self.style_images):
                self.log_image_grid(f"style_image/{index}", [image])

    def configure_optimizers(self):
        return self.adam(self.transformer.parameters(), lr=self.hparams.lr)

    def losses(
        self, content: torch.Tensor, style_index: torch.Tensor | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Loss terms and the stylized batch; ``style_index`` (N,) picks each sample's style (multi-style networks)."""
        if style_index is not None:
            set_style(self.transformer, style_index)
        # Unclamped output for the loss, as in the example: clamping would zero some gradients.
        stylized = self.transformer(content * 255.0) / 255.0
        return self.perceptual(stylized, content, style_index), stylized

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        n = batch["content"].shape[0]
        # A uniform style per sample, drawn on the CPU from torch's global generator, so the draws repeat with the run.
        styles = torch.randint(self.num_styles, (n,)).to(self.device) if self.num_styles > 1 else None
        return self.log_train_losses(self.losses(batch["content"], styles)[0], n)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Every photo in every style: ``val/style_K`` per style, the other metrics as means over styles."""
        content = batch["content"]
        n = content.shape[0]
        multi = self.num_styles > 1
        per_style, rows, invariance = [], [content], []
        for index in range(self.num_styles):
            losses, stylized = self.losses(content, torch.full((n,), index, device=content.device) if multi else None)
            # val/content_K, val/style_K, val/total_K: also in a one-style network told its index (model.style_index)
            label = index if multi else self.hparams.style_index
            if label is not None:
                self.log_val({f"{key}_{label}": losses[key] for key in ("content", "style", "total")}, n)
            per_style.append(losses)
            rows.append(stylized.clamp(0, 1))
            # Instance norm's claimed strength: the same content under other lighting, the same output.
            invariance.append((stylized.clamp(0, 1) - self(illumination_shift(content))).abs().mean())
        means = {key: torch.stack([losses[key] for losses in per_style]).mean() for key in per_style[0]}
        means["contrast_invariance_l1"] = torch.stack(invariance).mean()
        self.log_val({**means, "bn_train_eval_gap": train_eval_gap(self.transformer, self, content)}, n)
        self.collect_for_image_grid("val/content_stylized", rows)
