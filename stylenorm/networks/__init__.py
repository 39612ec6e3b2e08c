"""The networks as plain ``nn.Module``s (no Lightning, no Hydra, no I/O beyond explicit loaders)."""

from stylenorm.networks.autoencoder import ConvNormActAutoencoder
from stylenorm.networks.cyclegan_generator import ResnetGenerator
from stylenorm.networks.factory import MODEL_NAMES, build_networks
from stylenorm.networks.patchgan import PatchDiscriminator, patchgan_output_size
from stylenorm.networks.public_checkpoints import (
    detect_checkpoint_format,
    load_cyclegan_generator,
    load_fast_neural_style,
)
from stylenorm.networks.transformer_net import TransformerNet

__all__ = [
    "MODEL_NAMES",
    "ConvNormActAutoencoder",
    "PatchDiscriminator",
    "ResnetGenerator",
    "TransformerNet",
    "build_networks",
    "detect_checkpoint_format",
    "load_cyclegan_generator",
    "load_fast_neural_style",
    "patchgan_output_size",
]
