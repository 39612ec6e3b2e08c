"""The AdaIN style transfer network (Huang & Belongie 2017, Sec. 6 and Fig. 2): a fixed VGG19 encoder up to relu4_1,
the AdaIN layer and a mirrored decoder; output ``g((1 - alpha) f(c) + alpha t)`` (Eq. 14). Laid out index for index
like the paper's port (naoto0804/pytorch-AdaIN), so its ``vgg_normalised.pth`` and ``decoder.pth`` load unchanged.
RGB on a 0-1 scale in and out, unclamped. One fixed style: :mod:`stylenorm.networks.adain_stylizer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from stylenorm.nn.adain import adaptive_instance_norm
from stylenorm.nn.blocks import named_activations
from stylenorm.nn.norm import NormSpec

#: Indices (in :class:`AdaINEncoder`) of the ReLUs whose outputs the paper's losses read.
ENCODER_LAYER_INDICES = {"relu1_1": 3, "relu2_1": 10, "relu3_1": 17, "relu4_1": 30}
ENCODER_LAYERS = tuple(ENCODER_LAYER_INDICES)
#: Layers of the public ``vgg_normalised.pth`` that the encoder keeps (relu4_1 is index 30).
ENCODER_LENGTH = 31


def _conv3x3(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, kernel_size=3)]


def _upsample() -> nn.Module:
    return nn.Upsample(scale_factor=2, mode="nearest")


class AdaINEncoder(nn.Sequential):
    """VGG19 up to relu4_1 with reflection padding, frozen, indexed as the public ``vgg_normalised.pth``; ``width``:
    the first block's channels (64; less for cheap tests). Weights: :mod:`stylenorm.networks.adain_weights`."""

    def __init__(self, width: int = 64) -> None:
        w1, w2, w3, w4 = width, 2 * width, 4 * width, 8 * width
        pool = nn.MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True)
        layers: list[nn.Module] = [nn.Conv2d(3, 3, kernel_size=1)]
        layers += [*_conv3x3(3, w1), nn.ReLU()]  # relu1_1 (index 3)
        layers += [*_conv3x3(w1, w1), nn.ReLU(), pool]
        layers += [*_conv3x3(w1, w2), nn.ReLU()]  # relu2_1 (10)
        layers += [*_conv3x3(w2, w2), nn.ReLU(), pool]
        layers += [*_conv3x3(w2, w3), nn.ReLU()]  # relu3_1 (17)
        for _ in range(3):
            layers += [*_conv3x3(w3, w3), nn.ReLU()]
        layers += [pool, *_conv3x3(w3, w4), nn.ReLU()]  # relu4_1 (30)
        super().__init__(*layers)
        assert len(self) == ENCODER_LENGTH
        self.width = width
        self.weights_source = "random"
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> AdaINEncoder:
        return super().train(False)  # a fixed function (Sec. 6.1: "f is fixed"), whatever its parent's mode

    def features(self, images: Tensor, layers: tuple[str, ...] = ENCODER_LAYERS) -> dict[str, Tensor]:
        """Activations ``{name: tensor}`` at ``layers`` (of :data:`ENCODER_LAYERS`); stops after the deepest."""
        unknown = sorted(set(layers) - set(ENCODER_LAYER_INDICES))
        if unknown:
            raise ValueError(f"Unknown encoder layer(s) {unknown}; expected some of {list(ENCODER_LAYERS)}.")
        # Not self[:k]: slicing a Sequential subclass calls its __init__ with the layers.
        return named_activations(self, images, {ENCODER_LAYER_INDICES[name]: name for name in layers})


class AdaINDecoder(nn.Sequential):
    """The decoder mirroring :class:`AdaINEncoder`, indexed as the public ``decoder.pth``. Its ``norm`` is none in the
    paper; another kind after every conv but the last is the ablation behind Sec. 6.1's "normalization ... hurt"."""

    def __init__(self, width: int = 64, norm: NormSpec | Mapping[str, Any] | str | None = "none") -> None:
        self.norm_spec = NormSpec.from_config(norm).with_default_affine(True)
        w1, w2, w3, w4 = width, 2 * width, 4 * width, 8 * width
        layers: list[nn.Module] = [*self._conv_norm_relu(w4, w3), _upsample()]
        for _ in range(3):
            layers += self._conv_norm_relu(w3, w3)
        layers += [*self._conv_norm_relu(w3, w2), _upsample()]
        layers += self._conv_norm_relu(w2, w2)
        layers += [*self._conv_norm_relu(w2, w1), _upsample()]
        layers += self._conv_norm_relu(w1, w1)
        layers += _conv3x3(w1, 3)
        super().__init__(*layers)
        self.width = width

    def _conv_norm_relu(self, in_channels: int, out_channels: int) -> list[nn.Module]:
        norm = [] if self.norm_spec.kind == "none" else [self.norm_spec(out_channels, name="AdaIN decoder")]
        return [*_conv3x3(in_channels, out_channels), *norm, nn.ReLU()]


class AdaINNet(nn.Module):
    """Encoder, AdaIN and decoder: ``forward(content, style, alpha)`` gives the stylized image; ``norm`` is the
    decoder's (none in the paper)."""

    def __init__(self, width: int = 64, norm: NormSpec | Mapping[str, Any] | str | None = "none") -> None:
        super().__init__()
        self.encoder = AdaINEncoder(width)
        self.decoder = AdaINDecoder(width, norm)

    @property
    def norm_spec(self) -> NormSpec:
        return self.decoder.norm_spec

    def target(self, content_features: Tensor, style_features: Tensor, alpha: float = 1.0) -> Tensor:
        """``(1 - alpha) f(c) + alpha AdaIN(f(c), f(s))`` (Eq. 14), the decoder's input."""
        check_alpha(alpha)
        mixed = adaptive_instance_norm(content_features, style_features)
        return content_features + alpha * (mixed - content_features) if alpha != 1.0 else mixed

    def forward(self, content: Tensor, style: Tensor, alpha: float = 1.0) -> Tensor:
        """Stylized images (0-1 scale, unclamped) of ``content`` with ``style`` (a batch of 1 or one per content)."""
        return self.decoder(self.target(self.encoder(content), self.encoder(style), alpha))


def check_alpha(alpha: float) -> None:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"AdaIN alpha must be in [0, 1] (0: content only, 1: full style), got {alpha}.")
