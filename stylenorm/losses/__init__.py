"""Training objectives, each following its paper: perceptual (Johnson et al. 2016, Gram matrices of Gatys et al.
2016, on a VGG16 given as an argument), adversarial (LSGAN, Mao et al. 2017; GAN, Goodfellow et al. 2014),
reconstruction (CycleGAN's cycle-consistency and identity L1, Zhu et al. 2017; the autoencoder's L1/MSE) and AdaIN's.
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
