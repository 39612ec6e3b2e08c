"""Build the networks of a model config (``configs/model/*.yaml``) with its norm injected: plain functions of plain
mappings, so train.py, the LightningModules and the stylize command rebuild a network alike from saved settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from stylenorm.networks.adain import AdaINNet
from stylenorm.networks.autoencoder import ConvNormActAutoencoder
from stylenorm.networks.cyclegan_generator import ResnetGenerator
from stylenorm.networks.patchgan import PatchDiscriminator
from stylenorm.networks.transformer_net import TransformerNet
from stylenorm.nn.norm import STYLE_CONDITIONED_KINDS, NormSpec
from stylenorm.nn.weight_standardization import check_fits, standardize_conv_weights

MODEL_NAMES = ("style", "cyclegan", "autoencoder", "adain")

#: Role and class of the models with one network (their ``network`` options are its arguments).
_ONE_NETWORK = {
    "style": ("transformer", TransformerNet),
    "adain": ("adain", AdaINNet),
    "autoencoder": ("autoencoder", ConvNormActAutoencoder),
}


def resolved_affine(model_name: str, affine: bool | None) -> bool:
    """``norm.affine`` with null resolved to the model's main network default (AdaIN's decoder: True)."""
    if affine is not None:
        return affine
    network = ResnetGenerator if model_name == "cyclegan" else _ONE_NETWORK.get(model_name, (None, None))[1]
    return getattr(network, "default_affine", True)


def build_networks(model: Mapping[str, Any]) -> dict[str, nn.Module]:
    """Networks of one model config by role (``transformer``, ``G_AB``/``G_BA``/``D_A``/``D_B``, ``autoencoder`` or
    ``adain``), with ``conv.weight_standardization`` applied to every conv feeding a norm layer."""
    conv = {"weight_standardization": False, **(model.get("conv") or {})}
    if unknown := sorted(set(conv) - {"weight_standardization"}):
        raise ValueError(f"Unknown model.conv key(s) {unknown}; expected some of ['weight_standardization'].")
    if not isinstance(ws := conv["weight_standardization"], bool):
        raise ValueError(f"model.conv.weight_standardization must be true or false, got {ws!r}.")
    name = model.get("name")
    norm = NormSpec.from_config(model.get("norm"))
    if norm.kind in STYLE_CONDITIONED_KINDS and name != "style":
        raise ValueError(
            f"norm={norm.kind} needs a style index per image, which only model=style gives: use norm=instance here."
        )
    if name in _ONE_NETWORK:
        role, network = _ONE_NETWORK[name]
        networks = {role: network(norm=norm, **(model.get("network") or {}))}
    elif name == "cyclegan":
        generator = dict(model.get("generator") or {})
        discriminator = dict(model.get("discriminator") or {})
        d_norm = NormSpec.from_config(discriminator.pop("norm", None) or norm)
        networks = {
            "G_AB": ResnetGenerator(norm=norm, **generator),
            "G_BA": ResnetGenerator(norm=norm, **generator),
            "D_A": PatchDiscriminator(norm=d_norm, **discriminator),
            "D_B": PatchDiscriminator(norm=d_norm, **discriminator),
        }
    else:
        raise ValueError(f"Unknown model name {name!r}; expected one of {', '.join(MODEL_NAMES)} (configs/model/).")
    if conv["weight_standardization"]:
        for network in networks.values():
            check_fits(network.norm_spec)
            standardize_conv_weights(network)
    return networks
