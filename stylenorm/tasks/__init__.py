"""LightningModules: training logic only (networks in stylenorm.networks, losses in stylenorm.losses).

``hydra.utils.instantiate(cfg.model)`` returns one of these, with the norm of ``cfg.norm`` in every
network it holds.
"""

from stylenorm.tasks.adain import AdaINTask
from stylenorm.tasks.autoencoder import AutoencoderTask
from stylenorm.tasks.cyclegan import CycleGANTask
from stylenorm.tasks.style import StyleTransferTask

__all__ = ["AdaINTask", "AutoencoderTask", "CycleGANTask", "StyleTransferTask"]
