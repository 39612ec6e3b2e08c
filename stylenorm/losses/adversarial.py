"""The GAN objective of CycleGAN (Zhu et al. 2017, Sec. 4): ``lsgan`` (Mao et al. 2017, the default) or ``vanilla``
(Goodfellow et al. 2014, BCE with logits); the caller applies weights such as D's 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_CRITERIA = {"lsgan": F.mse_loss, "vanilla": F.binary_cross_entropy_with_logits}


class GANLoss(nn.Module):
    """``loss(prediction, target_is_real)``: D's raw output against an all-1 or all-0 target of its shape."""

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in _CRITERIA:
            raise ValueError(f"Unknown GAN loss mode {mode!r}; expected one of {', '.join(_CRITERIA)}.")
        self.mode = mode

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if not isinstance(target_is_real, bool):  # catches loss(prediction, real_images), which fails far from here
            raise TypeError(f"GANLoss: target_is_real must be True or False, got {type(target_is_real).__name__}.")
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return _CRITERIA[self.mode](prediction, target)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
