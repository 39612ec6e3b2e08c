"""LightningModules (``hydra.utils.instantiate(cfg.model)``): training logic only, networks and losses elsewhere."""

from stylenorm.tasks.adain import AdaINTask
from stylenorm.tasks.autoencoder import AutoencoderTask
from stylenorm.tasks.cyclegan import CycleGANTask
from stylenorm.tasks.style import StyleTransferTask

__all__ = ["AdaINTask", "AutoencoderTask", "CycleGANTask", "StyleTransferTask"]
