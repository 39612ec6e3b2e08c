"""Losses that compare an image with the image it should reproduce.

* CycleGAN (Zhu et al. 2017): cycle consistency, eq. 2, ``||F(G(x)) - x||_1``, and the identity
  loss of Sec. 5.2, ``||G(y) - y||_1``. Both are unweighted means here; the task multiplies them by
  lambda (10 per direction) and 0.5 x lambda.
* the ConvINAct autoencoder: L1 or MSE between output and input, :func:`reconstruction_loss`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

_RECONSTRUCTION_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,
    "mse": F.mse_loss,
}

#: Every reconstruction loss a config may name.
RECONSTRUCTION_LOSSES = tuple(_RECONSTRUCTION_LOSSES)


def _check_same_shape(output: torch.Tensor, target: torch.Tensor, what: str) -> None:
    # torch's losses broadcast mismatched shapes with only a warning, which would measure nonsense.
    if output.shape != target.shape:
        raise ValueError(
            f"{what}: the two images must have the same shape, got {tuple(output.shape)} and {tuple(target.shape)}."
        )


def cycle_consistency_loss(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between ``F(G(x))`` and ``x`` (Zhu et al. 2017, eq. 2)."""
    _check_same_shape(reconstructed, real, "cycle_consistency_loss")
    return F.l1_loss(reconstructed, real)


def identity_loss(same: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between ``G(y)`` and ``y`` (Zhu et al. 2017, Sec. 5.2; keeps colours)."""
    _check_same_shape(same, real, "identity_loss")
    return F.l1_loss(same, real)


def reconstruction_loss(kind: str = "l1") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``"l1" | "mse"`` -> ``loss(output, target)``, the mean over all elements."""
    try:
        criterion = _RECONSTRUCTION_LOSSES[kind]
    except KeyError:
        raise ValueError(
            f"Unknown reconstruction loss {kind!r}; expected one of {', '.join(RECONSTRUCTION_LOSSES)}."
        ) from None

    def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_same_shape(output, target, f"reconstruction_loss({kind!r})")
        return criterion(output, target)

    loss.__name__ = f"{kind}_reconstruction_loss"
    return loss
