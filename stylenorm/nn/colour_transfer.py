"""Colour preservation for AdaIN (Huang & Belongie 2017, Sec. 7.3, after Gatys et al. 2017): the port
naoto0804/pytorch-AdaIN's ``coral``. With ``x`` the style's pixels as a ``(3, H*W)`` matrix standardised per channel
(unbiased std), ``S = x x^T + I`` and ``T`` the same for the content, the result is ``T^(1/2) S^(-1/2) x`` at the
content's per-channel std and mean: the port's sum and identity, so its outputs are reproduced. Use: docs/modules.md.
"""

from __future__ import annotations

import torch

#: Floor for a channel's std: a flat channel (a single-colour image) would otherwise divide 0 by 0.
MIN_STD = 1e-6


def _standardised(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(3, H, W)`` -> ``(3, H*W)`` values with zero mean and unit unbiased std per channel, mean, std."""
    flat = pixels.reshape(3, -1)
    mean = flat.mean(dim=1, keepdim=True)
    std = flat.std(dim=1, keepdim=True).clamp_min(MIN_STD)
    return (flat - mean) / std, mean, std


def _symmetric_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    """``matrix ** power`` of a symmetric positive definite matrix, through its eigendecomposition."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return eigenvectors @ torch.diag(eigenvalues.pow(power)) @ eigenvectors.T


def match_colour(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source`` (``(3, H, W)`` RGB, 0-1) recoloured to ``target``'s colour mean and covariance, unclamped."""
    if source.dim() != 3 or source.shape[0] != 3 or target.dim() != 3 or target.shape[0] != 3:
        raise ValueError(
            f"Colour matching takes two RGB images shaped (3, H, W), got {tuple(source.shape)} and "
            f"{tuple(target.shape)}."
        )
    source_values, _, _ = _standardised(source.float())
    target_values, target_mean, target_std = _standardised(target.float())
    # The 3x3 algebra in float64: the eigendecomposition of a matrix whose entries are sums over
    # millions of pixels loses digits in float32, and it costs nothing at this size.
    identity = torch.eye(3, dtype=torch.float64, device=source.device)
    source_covariance = source_values.double() @ source_values.double().T + identity
    target_covariance = target_values.double() @ target_values.double().T + identity
    transform = _symmetric_power(target_covariance, 0.5) @ _symmetric_power(source_covariance, -0.5)
    recoloured = transform.to(source_values.dtype) @ source_values
    return (recoloured * target_std + target_mean).reshape(source.shape)
