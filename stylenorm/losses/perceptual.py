"""The perceptual loss of fast style transfer (Johnson et al. 2016, Sec. 3.2; Gatys et al. 2016's Gram matrices) at the
scale of the PyTorch ``fast_neural_style`` example, in float32. Details: docs/modules.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stylenorm.networks.vgg import VGG16_LAYERS, VGG16Features, check_layer_names


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W) -> (N, C, C)`` Gram matrices ``F F^T / (C*H*W)`` in float32, normalised as in the example."""
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects features of shape (N, C, H, W), got {tuple(features.shape)}.")
    n, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        flat = features.float().reshape(n, c, h * w)
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation (Mahendran & Vedaldi 2015) as means: ``tv_weight`` ignores image and batch size."""
    if images.dim() != 4:
        raise ValueError(f"total_variation expects images of shape (N, C, H, W), got {tuple(images.shape)}.")
    with torch.autocast(images.device.type, enabled=False):
        images = images.float()
        return images.diff(dim=2).abs().mean() + images.diff(dim=3).abs().mean()


class PerceptualLoss(nn.Module):
    """Weighted content + style (+ TV) loss: :meth:`set_style` once, then ``loss(stylized, content)`` on unclamped 0-1
    RGB; default weights: the PyTorch example's."""

    def __init__(
        self,
        vgg: VGG16Features,
        content_layer: str = "relu2_2",
        style_layers: Sequence[str] = VGG16_LAYERS,
        content_weight: float = 1e5,
        style_weight: float = 1e10,
        tv_weight: float = 0.0,
    ):
        super().__init__()
        self.vgg = vgg
        (self.content_layer,) = check_layer_names([content_layer], "content_layer")
        self.style_layers = check_layer_names(style_layers, "style_layers")
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        for name in self.style_layers:
            # Not persistent: set_style recomputes them, so checkpoints load into a module without a style.
            self.register_buffer(f"style_gram_{name}", None, persistent=False)

    @property
    def style_grams(self) -> dict[str, torch.Tensor]:
        """``{layer: (S, C, C)}`` Gram matrices of the S style images; empty before :meth:`set_style`."""
        grams = {name: getattr(self, f"style_gram_{name}") for name in self.style_layers}
        return {} if any(gram is None for gram in grams.values()) else grams

    @torch.no_grad()
    def set_style(self, style_image: torch.Tensor) -> None:
        """Compute and keep the style Grams of one ``(3, H, W)`` or ``(1, 3, H, W)`` 0-1 RGB image of any size."""
        self.set_styles([style_image])

    @torch.no_grad()
    def set_styles(self, style_images: Sequence[torch.Tensor]) -> None:
        """Style Grams of several images (sizes may differ), style index = position (conditional instance norm)."""
        if not style_images:
            raise ValueError("set_styles needs at least one style image.")
        grams = []
        for style_image in style_images:
            if style_image.dim() == 3:
                style_image = style_image.unsqueeze(0)
            if style_image.dim() != 4 or style_image.shape[:2] != (1, 3):
                raise ValueError(
                    f"set_style expects one RGB style image, (3, H, W) or (1, 3, H, W) on a 0-1 scale, "
                    f"got shape {tuple(style_image.shape)}."
                )
            features = self.vgg(style_image.to(self.vgg.mean.device), self.style_layers)
            grams.append({name: gram_matrix(features[name]) for name in self.style_layers})
        for name in self.style_layers:
            setattr(self, f"style_gram_{name}", torch.cat([gram[name] for gram in grams]))

    def forward(
        self, stylized: torch.Tensor, content: torch.Tensor, style_index: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Weighted float32 ``content``, ``style``, ``tv`` and ``total``; ``style_index``: one style per sample."""
        style_grams = self.style_grams
        if not style_grams:
            raise RuntimeError("PerceptualLoss has no style yet: call set_style(style_image) before the loss.")
        if style_index is None and (count := len(next(iter(style_grams.values())))) > 1:
            raise ValueError(f"This loss holds {count} styles: pass style_index, one per sample.")
        if style_index is not None:
            style_grams = {name: gram[style_index] for name, gram in style_grams.items()}
        if stylized.shape != content.shape:
            raise ValueError(
                f"stylized and content batches must have the same shape, got {tuple(stylized.shape)} and "
                f"{tuple(content.shape)}. Image sizes must be multiples of 4 for TransformerNet to keep them."
            )
        layers = (*self.style_layers, self.content_layer)
        stylized_features = self.vgg(stylized, layers)
        with torch.no_grad():  # the content image is a fixed target; keep no graph for it
            content_features = self.vgg(content, [self.content_layer])[self.content_layer]

        with torch.autocast(stylized.device.type, enabled=False):
            content_loss = F.mse_loss(stylized_features[self.content_layer].float(), content_features.float())
            grams = {name: gram_matrix(stylized_features[name]) for name in self.style_layers}
            # One style image for the whole batch (a smaller last batch too), or one per sample.
            style_loss = sum(F.mse_loss(gram, style_grams[name].expand_as(gram)) for name, gram in grams.items())
            tv_loss = total_variation(stylized) if self.tv_weight else stylized.new_zeros((), dtype=torch.float32)
            terms = {"content": self.content_weight * content_loss, "style": self.style_weight * style_loss}
            terms["tv"] = self.tv_weight * tv_loss
            terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms

    def extra_repr(self) -> str:
        return (
            f"content_layer={self.content_layer}, style_layers={self.style_layers}, "
            f"content_weight={self.content_weight:g}, style_weight={self.style_weight:g}, tv_weight={self.tv_weight:g}"
        )
