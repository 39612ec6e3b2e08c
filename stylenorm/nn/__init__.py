"""Normalization factory and the blocks built on it."""

from stylenorm.nn.blocks import ConvNormAct, ReflectionConv, ResizeConv, make_activation
from stylenorm.nn.norm import NORM_KINDS, NormSpec, auto_num_groups, is_norm_layer

__all__ = [
    "NORM_KINDS",
    "ConvNormAct",
    "NormSpec",
    "ReflectionConv",
    "ResizeConv",
    "auto_num_groups",
    "is_norm_layer",
    "make_activation",
]
