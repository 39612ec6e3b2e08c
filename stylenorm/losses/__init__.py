"""Training objectives, each following its paper:

* :mod:`~stylenorm.losses.perceptual`: content and style losses of fast style transfer (Johnson
  et al. 2016; Gram matrices of Gatys et al. 2016) on a VGG16 given as an argument
  (:mod:`stylenorm.networks.vgg`), plus total variation.
* :mod:`~stylenorm.losses.adversarial`: LSGAN (Mao et al. 2017, the CycleGAN default) and the
  original GAN loss (Goodfellow et al. 2014).
* :mod:`~stylenorm.losses.reconstruction`: CycleGAN's cycle-consistency and identity L1 losses
  (Zhu et al. 2017, eq. 2 and Sec. 5.2) and the autoencoder's L1/MSE.
"""

from stylenorm.losses.adversarial import GAN_MODES, GANLoss
from stylenorm.losses.perceptual import PerceptualLoss, gram_matrix, total_variation
from stylenorm.losses.reconstruction import (
    RECONSTRUCTION_LOSSES,
    cycle_consistency_loss,
    identity_loss,
    reconstruction_loss,
)

__all__ = [
    "GAN_MODES",
    "RECONSTRUCTION_LOSSES",
    "GANLoss",
    "PerceptualLoss",
    "cycle_consistency_loss",
    "gram_matrix",
    "identity_loss",
    "reconstruction_loss",
    "total_variation",
]
