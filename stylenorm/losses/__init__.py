"""Training objectives, each following its paper: perceptual (Johnson et al. 2016), adversarial (LSGAN or GAN),
reconstruction (CycleGAN's cycle and identity L1; the autoencoder's L1/MSE) and AdaIN's (Huang & Belongie 2017)."""

from stylenorm.losses.adversarial import GANLoss
from stylenorm.losses.perceptual import PerceptualLoss, gram_matrix, total_variation
from stylenorm.losses.reconstruction import cycle_consistency_loss, identity_loss, reconstruction_loss

__all__ = [
    "GANLoss",
    "PerceptualLoss",
    "cycle_consistency_loss",
    "gram_matrix",
    "identity_loss",
    "reconstruction_loss",
    "total_variation",
]
