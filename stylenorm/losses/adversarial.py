"""The GAN objective of CycleGAN's discriminators and generators.

Zhu et al. 2017, Sec. 4 ("Training details") replace the negative log-likelihood of the original
GAN (Goodfellow et al. 2014) with a least-squares loss (LSGAN, Mao et al. 2017), which trains more
stably and gives higher quality results; both are available:

========= ============================================== ============================================
mode      loss of discriminator output ``p``              for
========= ============================================== ============================================
lsgan     mean (p - 1)^2 if real, mean p^2 if fake       the CycleGAN default (no sigmoid on ``p``)
vanilla   BCE-with-logits against 1 (real) or 0 (fake)   the original GAN (``p`` are logits)
========= ============================================== ============================================

The same call serves both players: the discriminator is trained with ``loss(D(real), True)`` and
``loss(D(fake.detach()), False)``, the generator with ``loss(D(fake), True)``. Weights (e.g. the
0.5 on the discriminator loss) are applied by the caller.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_CRITERIA = {
    "lsgan": F.mse_loss,
    "vanilla": F.binary_cross_entropy_with_logits,
}

#: Every mode a config may name.
GAN_MODES = tuple(_CRITERIA)


class GANLoss(nn.Module):
    """``loss(prediction, target_is_real) -> scalar``: D's raw output against an all-1 or all-0 target.

    Targets are made on the fly with the prediction's shape, device and dtype, so a PatchGAN's
    30x30 map or a single logit work alike.
    """

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in _CRITERIA:
            raise ValueError(f"Unknown GAN loss mode {mode!r}; expected one of {', '.join(GAN_MODES)}.")
        self.mode = mode

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if not isinstance(target_is_real, bool):
            # Catches loss(prediction, real_images), a swap that would otherwise fail far from here.
            raise TypeError(
                f"GANLoss(prediction, target_is_real): target_is_real must be True or False, "
                f"got {type(target_is_real).__name__}."
            )
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return _CRITERIA[self.mode](prediction, target)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
