"""Losses that compare an image with the image it should reproduce, as unweighted means: CycleGAN's cycle
consistency (Zhu et al. 2017, eq. 2) and identity loss (Sec. 5.2), both L1; the autoencoder's L1 or MSE.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_RECONSTRUCTION_LOSSES: dict[str, Loss] = {"l1": F.l1_loss, "mse": F.mse_loss}


def _same_shape_only(criterion: Loss, name: str) -> Loss:
    """``criterion`` refusing images of different shapes, which torch's losses broadcast with only a warning."""

    def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.shape != target.shape:
            raise ValueError(
                f"{name}: the two images must have the same shape, got {tuple(output.shape)} and {tuple(target.shape)}."
            )
        return criterion(output, target)

    loss.__name__ = name
    return loss


cycle_consistency_loss = _same_shape_only(F.l1_loss, "cycle_consistency_loss")
identity_loss = _same_shape_only(F.l1_loss, "identity_loss")


def reconstruction_loss(kind: str = "l1") -> Loss:
    """``"l1" | "mse"`` -> ``loss(output, target)``, the mean over all elements."""
    if kind not in _RECONSTRUCTION_LOSSES:
        raise ValueError(f"Unknown reconstruction loss {kind!r}; expected one of {', '.join(_RECONSTRUCTION_LOSSES)}.")
    return _same_shape_only(_RECONSTRUCTION_LOSSES[kind], f"{kind}_reconstruction_loss")
