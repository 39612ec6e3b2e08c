"""Training objectives, each following its paper:

* :mod:`~stylenorm.losses.vgg`: the frozen VGG16 loss network (Simonyan & Zisserman 2015) as
  Johnson et al. 2016 use it, and where its weights come from (ImageNet, a file, or random).
* :mod:`~stylenorm.losses.perceptual`: content and style losses of fast style transfer (Johnson
  et al. 2016; Gram matrices of Gatys et al. 2016), at the scale of the PyTorch fast_neural_style
  example, plus total variation.
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
from stylenorm.losses.vgg import (
    VGG16_LAYERS,
    VGG16Features,
    VGGWeightsUnavailableError,
    imagenet_weights_cache_path,
    load_vgg16_features,
)

__all__ = [
    "GAN_MODES",
    "RECONSTRUCTION_LOSSES",
    "VGG16_LAYERS",
    "GANLoss",
    "PerceptualLoss",
    "VGG16Features",
    "VGGWeightsUnavailableError",
    "cycle_consistency_loss",
    "gram_matrix",
    "identity_loss",
    "imagenet_weights_cache_path",
    "load_vgg16_features",
    "reconstruction_loss",
    "total_variation",
]
