"""The AdaIN network (Huang & Belongie 2017, Sec. 6, Eq. 14): a fixed VGG19 encoder to relu4_1, AdaIN and a mirrored
decoder, indexed like the paper's port (naoto0804/pytorch-AdaIN) so its files load; :class:`AdaINWithStyleStatistics`
holds one fixed style, to stylize, tile and export like the other networks. Details: docs/modules.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.vgg import cfgs

from stylenorm.nn.adain import ADAIN_EPS, adaptive_instance_norm, channel_mean_std, match_colour
from stylenorm.nn.blocks import named_activations
from stylenorm.nn.norm import NormSpec

#: Indices (in :class:`AdaINEncoder`) of the ReLUs whose outputs the paper's losses read.
ENCODER_LAYER_INDICES = {"relu1_1": 3, "relu2_1": 10, "relu3_1": 17, "relu4_1": 30}
ENCODER_LAYERS = tuple(ENCODER_LAYER_INDICES)
#: Layers of the public ``vgg_normalised.pth`` that the encoder keeps (relu4_1 is index 30).
ENCODER_LENGTH = 31
#: relu4_1 needs 2 positions per channel for a (unbiased) std: 16 px gives 2 x 2.
MIN_SIZE = 16


def _conv3x3(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, kernel_size=3)]


class AdaINEncoder(nn.Sequential):
    """VGG19 up to relu4_1, reflection-padded, frozen, indexed as ``vgg_normalised.pth``; ``width``: conv1 channels."""

    def __init__(self, width: int = 64) -> None:
        pool = nn.MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True)
        layers: list[nn.Module] = [nn.Conv2d(3, 3, kernel_size=1)]
        channels = 3
        for out in cfgs["E"][:12]:  # torchvision's VGG19 configuration up to relu4_1, scaled to `width`
            if out == "M":
                layers.append(pool)
            else:
                layers += [*_conv3x3(channels, out * width // 64), nn.ReLU()]
                channels = out * width // 64
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
        return named_activations(self, images, {ENCODER_LAYER_INDICES[name]: name for name in layers})


class AdaINDecoder(nn.Sequential):
    """The decoder mirroring :class:`AdaINEncoder`, as ``decoder.pth``; ``norm`` after all but the last conv."""

    def __init__(self, width: int = 64, norm: NormSpec | Mapping[str, Any] | str | None = "none") -> None:
        self.norm_spec = NormSpec.from_config(norm).with_default_affine(True)
        w1, w2, w3, w4 = width, 2 * width, 4 * width, 8 * width
        layers: list[nn.Module] = []
        for in_channels, out_channels, repeats in ((w4, w3, 3), (w3, w2, 1), (w2, w1, 1)):
            layers += [*self._conv_norm_relu(in_channels, out_channels), nn.Upsample(scale_factor=2, mode="nearest")]
            for _ in range(repeats):
                layers += self._conv_norm_relu(out_channels, out_channels)
        layers += _conv3x3(w1, 3)
        super().__init__(*layers)
        self.width = width

    def _conv_norm_relu(self, in_channels: int, out_channels: int) -> list[nn.Module]:
        norm = [] if self.norm_spec.kind == "none" else [self.norm_spec(out_channels, name="AdaIN decoder")]
        return [*_conv3x3(in_channels, out_channels), *norm, nn.ReLU()]


class AdaINNet(nn.Module):
    """Encoder, AdaIN and decoder: ``forward(content, style, alpha)``; ``norm`` is the decoder's."""

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


class AdaINContentNorm(nn.Module):
    """``(x - mean(x)) / sqrt(var(x) + eps)`` per sample and channel (the port's unbiased variance), as a module whose
    statistics tiled inference can supply (:mod:`stylenorm.inference.tile_statistics`)."""

    variance_correction = 1

    def __init__(self, num_features: int, eps: float = ADAIN_EPS) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps

    @property
    def statistics_groups(self) -> int:
        return self.num_features

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, unbiased variance"

    def forward(self, features: Tensor) -> Tensor:
        mean, std = channel_mean_std(features, self.eps)
        return (features - mean) / std


def weighted_statistics(encoder: AdaINEncoder, styles: Sequence[Tensor], weights: Tensor) -> tuple[Tensor, Tensor]:
    """``(sum_i w_i mean_i, sum_i w_i std_i)``, each ``(1, C, 1, 1)``, of the relu4_1 features of ``styles``."""
    means, stds = zip(*(channel_mean_std(encoder(style)) for style in styles), strict=True)
    weights = weights.to(means[0].dtype).reshape(-1, 1, 1, 1, 1)
    return (weights * torch.stack(means)).sum(0), (weights * torch.stack(stds)).sum(0)


class FixedStyle(nn.Module):
    """Style statistics computed once: ``forward(content)`` returns them whatever the content."""

    def __init__(self, style_mean: Tensor, style_std: Tensor) -> None:
        super().__init__()
        self.register_buffer("style_mean", style_mean.detach().clone())
        self.register_buffer("style_std", style_std.detach().clone())

    @classmethod
    def from_images(cls, encoder: AdaINEncoder, styles: Sequence[Tensor], weights: Tensor) -> FixedStyle:
        with torch.no_grad():
            return cls(*weighted_statistics(encoder, styles, weights))

    def forward(self, content: Tensor) -> tuple[Tensor, Tensor]:
        return self.style_mean, self.style_std


class ColourPreservingStyle(nn.Module):
    """Style statistics recomputed for every content image from the style images recoloured to it."""

    depends_on_whole_image = True  # tiled inference computes them once on the whole image, not per tile
    not_exportable_because = (  # why export refuses it
        "colour preservation recomputes the style statistics for every content image (the style images are "
        "recoloured to it first), so they cannot be baked into the file"
    )

    def __init__(self, encoder: AdaINEncoder, styles: Sequence[Tensor], weights: Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        self.count = len(styles)
        for index, style in enumerate(styles):  # buffers, so .to(device) moves them with the network
            self.register_buffer(f"style_{index}", style.detach().clone())
        self.register_buffer("weights", weights.detach().clone().float())

    @property
    def styles(self) -> list[Tensor]:
        return [getattr(self, f"style_{index}") for index in range(self.count)]

    def forward(self, content: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, C, 1, 1)`` mean and std, one row per content image."""
        statistics = [
            weighted_statistics(
                self.encoder, [match_colour(style[0], image)[None] for style in self.styles], self.weights
            )
            for image in content
        ]
        means, stds = zip(*statistics, strict=True)
        return torch.cat(means), torch.cat(stds)


class AdaINWithStyleStatistics(nn.Module):
    """``forward(content)``: AdaIN with the style held by ``style`` (:class:`FixedStyle` or
    :class:`ColourPreservingStyle`) and trade-off ``alpha`` (Eq. 14); 0-1 RGB in, unclamped out."""

    #: Three poolings (ceil mode) and three upsamplings: sides that are multiples of 8 come back at their size.
    size_multiple = 8
    min_size = MIN_SIZE
    #: How far a pixel's influence reaches through encoder and decoder (px), for tile overlaps (docs/modules.md).
    receptive_field_radius = 64

    def __init__(
        self,
        encoder: AdaINEncoder,
        decoder: AdaINDecoder,
        style: FixedStyle | ColourPreservingStyle,
        alpha: float = 1.0,
    ) -> None:
        super().__init__()
        check_alpha(alpha)
        self.encoder, self.decoder, self.style, self.alpha = encoder, decoder, style, float(alpha)
        self.content_norm = AdaINContentNorm(8 * encoder.width)

    def forward(self, content: Tensor) -> Tensor:
        style_mean, style_std = self.style(content)
        features = self.encoder(content)
        target = self.content_norm(features) * style_std + style_mean
        # The port's order (Eq. 14 as `feat * alpha + content_f * (1 - alpha)`): alpha 0 gives f(c) exactly.
        return self.decoder(target * self.alpha + features * (1 - self.alpha))
