"""Adaptive instance normalization (Huang & Belongie 2017, Eq. 8): ``sigma(y) * (x - mu(x)) / sigma(x) + mu(y)``.

Two inputs, so not a ``NormSpec`` kind. The statistics follow the paper's PyTorch port (naoto0804/pytorch-AdaIN):
unbiased variance with ``eps`` added before the square root, so files trained with that code see the same features.
"""

from __future__ import annotations

import torch

#: Added to the variance before the square root, as in the paper's PyTorch port.
ADAIN_EPS = 1e-5


def channel_mean_std(features: torch.Tensor, eps: float = ADAIN_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation of ``(N, C, H, W)`` features, shaped ``(N, C, 1, 1)``."""
    if features.dim() != 4:
        raise ValueError(f"AdaIN expects (N, C, H, W) features, got shape {tuple(features.shape)}.")
    flat = features.flatten(2)
    if flat.shape[2] < 2:
        raise ValueError(
            f"AdaIN needs at least 2 spatial positions per channel to measure a std; got {tuple(features.shape)}. "
            "Use a larger image (the encoder downsamples 8x before relu4_1)."
        )
    mean = flat.mean(dim=2)
    std = (flat.var(dim=2) + eps).sqrt()
    return mean[..., None, None], std[..., None, None]


def adain_with_statistics(
    content: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor, eps: float = ADAIN_EPS
) -> torch.Tensor:
    """AdaIN with the style given by its statistics (``(N or 1, C, 1, 1)``), e.g. baked into an export."""
    mean, std = channel_mean_std(content, eps)
    return (content - mean) / std * style_std + style_mean


def adaptive_instance_norm(content: torch.Tensor, style: torch.Tensor, eps: float = ADAIN_EPS) -> torch.Tensor:
    """AdaIN(content, style): ``content`` normalised per channel, then given ``style``'s mean and std."""
    if content.shape[:2] != style.shape[:2] and not (style.shape[0] == 1 and content.shape[1] == style.shape[1]):
        raise ValueError(
            f"AdaIN content {tuple(content.shape)} and style {tuple(style.shape)} features need the same channels "
            "and batch size (or a style batch of 1)."
        )
    return adain_with_statistics(content, *channel_mean_std(style, eps), eps)
