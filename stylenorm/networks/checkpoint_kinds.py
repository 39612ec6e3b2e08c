"""What a checkpoint file is: its format, model, network per direction, pixel convention and norm; the one answer
the stylize and export commands, the demo's checkpoint list and resume's refusals use. Layouts of the public files:
docs/public_checkpoints.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from stylenorm.networks.factory import resolved_affine
from stylenorm.networks.public_checkpoints import detect_checkpoint_format


@dataclasses.dataclass(frozen=True)
class CheckpointKind:
    """One kind of checkpoint file: layout, model, the network to run per direction (empty for a public file, which
    holds one), pixel convention name, trained norm, and whether it maps images to images."""

    format: str
    model: str
    roles: Mapping[str, str]
    pixels: str
    norm_kind: str
    affine: bool | None
    num_styles: int = 1
    runnable: bool = True

    @property
    def directions(self) -> tuple[str, ...]:
        """``("AtoB", "BtoA")`` for a checkpoint holding both CycleGAN generators, else ``()``."""
        return tuple(self.roles) if len(self.roles) > 1 else ()


#: The networks of a train.py checkpoint, by its model name: the role to run per direction, and pixels.
LIGHTNING_MODELS: dict[str, tuple[dict[str, str], str]] = {
    "style": ({"AtoB": "transformer"}, "zero_to_255"),
    "cyclegan": ({"AtoB": "G_AB", "BtoA": "G_BA"}, "signed"),
    "autoencoder": ({"AtoB": "autoencoder"}, "unit"),
    "adain": ({"AtoB": "adain"}, "unit"),  # the port's test.py: ToTensor in, save_image (rounding) out
}

#: The public layouts, in this project's terms (the norm layers of the code that wrote them).
PUBLIC_KINDS = {
    kind.format: kind
    for kind in (
        CheckpointKind("fast_neural_style", "style", {}, "zero_to_255", "instance", True),  # InstanceNorm2d(affine)
        CheckpointKind("cyclegan_generator", "cyclegan", {}, "signed", "instance", False),  # --norm instance
        CheckpointKind("adain_decoder", "adain", {}, "unit", "none", None),  # no norm: AdaIN sits in the middle
        CheckpointKind("adain_encoder", "adain", {}, "unit", "none", None, runnable=False),
        CheckpointKind("cyclegan_discriminator", "cyclegan", {}, "signed", "instance", False, runnable=False),
    )
}


def lightning_model_name(checkpoint: Mapping[str, Any]) -> str:
    """The ``name`` hyperparameter; older files without it are recognised by their weight prefixes."""
    name = checkpoint["hyper_parameters"].get("name")
    if name in LIGHTNING_MODELS:
        return name
    prefixes = {key.split(".", 1)[0] for key in checkpoint["state_dict"]}
    for candidate, (roles, _) in LIGHTNING_MODELS.items():
        if set(roles.values()) <= prefixes:
            return candidate
    raise ValueError(
        f"The Lightning checkpoint's model name is {name!r} and its weights ({', '.join(sorted(prefixes))}) "
        f"match none of {', '.join(LIGHTNING_MODELS)}: it was not written by this project's train.py."
    )


def identify(state: Mapping[str, Any]) -> CheckpointKind:
    """What a loaded checkpoint mapping is, from its keys (and a train.py file's hyperparameters)."""
    layout = detect_checkpoint_format(state)
    if layout != "lightning":
        return PUBLIC_KINDS[layout]
    model = lightning_model_name(state)
    roles, pixels = LIGHTNING_MODELS[model]
    norm = state["hyper_parameters"].get("norm") or {}
    kind = str(norm.get("kind", "?"))
    num_styles = int(norm.get("num_styles") or 1) if kind == "conditional_instance" else 1
    affine = resolved_affine(model, norm.get("affine"))
    return CheckpointKind("lightning", model, roles, pixels, kind, affine, num_styles)
