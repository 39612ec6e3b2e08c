"""Adaptive instance normalization (Huang & Belongie 2017, Eq. 8) and its colour control (Sec. 7.3), with the
statistics of the paper's port (naoto0804/pytorch-AdaIN: unbiased variance, eps before the root). docs/modules.md.
"""

from __future__ import annotations

import torch

#: Added to the variance before the square root, as in the paper's PyTorch port.
ADAIN_EPS = 1e-5
#: Floor for a channel's std: a flat channel (a single-colour image) would otherwise divide 0 by 0.
MIN_STD = 1e-6


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
    std = (flat.var(dim=2) + eps).sqrt()
    return flat.mean(dim=2)[..., None, None], std[..., None, None]


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


def _standardised(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(3, H, W)`` -> ``(3, H*W)`` values with zero mean and unit unbiased std per channel, mean, std."""
    flat = pixels.reshape(3, -1)
    mean = flat.mean(dim=1, keepdim=True)
    std = flat.std(dim=1, keepdim=True).clamp_min(MIN_STD)
    return (flat - mean) / std, mean, std


def _symmetric_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return eigenvectors @ torch.diag(eigenvalues.pow(power)) @ eigenvectors.T


def match_colour(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source`` (``(3, H, W)`` RGB, 0-1) recoloured to ``target``'s colour mean and covariance (the port's ``coral``),
    unclamped: ``T^(1/2) S^(-1/2) x`` with ``S = x x^T + I`` of the standardised pixels, ``T`` the target's."""
    if source.dim() != 3 or source.shape[0] != 3 or target.dim() != 3 or target.shape[0] != 3:
        raise ValueError(
            f"Colour matching takes two RGB images shaped (3, H, W), got {tuple(source.shape)} and "
            f"{tuple(target.shape)}."
        )
    source_values, _, _ = _standardised(source.float())
    target_values, target_mean, target_std = _standardised(target.float())
    # The 3x3 algebra in float64: sums over millions of pixels lose digits in float32.
    identity = torch.eye(3, dtype=torch.float64, device=source.device)
    source_covariance = source_values.double() @ source_values.double().T + identity
    target_covariance = target_values.double() @ target_values.double().T + identity
    transform = _symmetric_power(target_covariance, 0.5) @ _symmetric_power(source_covariance, -0.5)
    recoloured = transform.to(source_values.dtype) @ source_values
    return (recoloured * target_std + target_mean).reshape(source.shape)
