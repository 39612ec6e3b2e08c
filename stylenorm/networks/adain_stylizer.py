"""AdaIN with its style fixed: a one-input network ``content -> stylized`` (Huang & Belongie 2017,
Sec. 6 and 7.3), so AdaIN stylizes, tiles and exports like every other network here. Details: docs/modules.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from stylenorm.networks.adain import AdaINDecoder, AdaINEncoder, check_alpha
from stylenorm.nn.adain import ADAIN_EPS, channel_mean_std, match_colour

#: The encoder pools three times (ceil mode) and the decoder upsamples three times: sides that are
#: multiples of 8 come back at their size.
SIZE_MULTIPLE = 8
#: relu4_1 needs 2 positions per channel for a (unbiased) std: 16 px gives 2 x 2.
MIN_SIZE = 16
#: How far a pixel's influence reaches through the encoder and decoder (px; measured with the content
#: statistics held fixed, rounded up), for tile overlaps (:func:`stylenorm.inference.tiling.default_overlap`).
RECEPTIVE_FIELD_RADIUS = 64


class AdaINContentNorm(nn.Module):
    """``(x - mean(x)) / sqrt(var(x) + eps)`` per sample and channel with the port's *unbiased* variance, declaring
    its statistics for code that supplies them from outside (:mod:`stylenorm.inference.tile_statistics`)."""

    variance_correction = 1

    def __init__(self, num_features: int, eps: float = ADAIN_EPS) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps

    @property
    def statistics_groups(self) -> int:
        return self.num_features

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, unbiased variance"

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mean, std = channel_mean_std(features, self.eps)
        return (features - mean) / std


def weighted_statistics(
    encoder: AdaINEncoder, styles: Sequence[torch.Tensor], weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sum_i w_i mean_i, sum_i w_i std_i)``, each ``(1, C, 1, 1)``, of the relu4_1 features of ``styles``
    (``(1, 3, H_i, W_i)`` images on a 0-1 scale, each encoded alone)."""
    means, stds = zip(*(channel_mean_std(encoder(style)) for style in styles), strict=True)
    weights = weights.to(means[0].dtype).reshape(-1, 1, 1, 1, 1)
    return (weights * torch.stack(means)).sum(0), (weights * torch.stack(stds)).sum(0)


class FixedStyle(nn.Module):
    """Style statistics computed once: ``forward(content)`` returns them whatever the content."""

    def __init__(self, style_mean: torch.Tensor, style_std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("style_mean", style_mean.detach().clone())
        self.register_buffer("style_std", style_std.detach().clone())

    @classmethod
    def from_images(cls, encoder: AdaINEncoder, styles: Sequence[torch.Tensor], weights: torch.Tensor) -> FixedStyle:
        with torch.no_grad():
            return cls(*weighted_statistics(encoder, styles, weights))

    def forward(self, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.style_mean, self.style_std


class ColourPreservingStyle(nn.Module):
    """Style statistics recomputed for every content image from the style images recoloured to it."""

    depends_on_whole_image = True  # tiled inference computes them once on the whole image, not per tile
    #: Why export refuses it (:func:`stylenorm.inference.export.export_module`).
    not_exportable_because = (
        "colour preservation recomputes the style statistics for every content image (the style images are "
        "recoloured to it first), so they cannot be baked into the file"
    )

    def __init__(self, encoder: AdaINEncoder, styles: Sequence[torch.Tensor], weights: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        self.count = len(styles)
        for index, style in enumerate(styles):  # buffers, so .to(device) moves them with the network
            self.register_buffer(f"style_{index}", style.detach().clone())
        self.register_buffer("weights", weights.detach().clone().float())

    @property
    def styles(self) -> list[torch.Tensor]:
        return [getattr(self, f"style_{index}") for index in range(self.count)]

    def forward(self, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
    """``forward(content)``: the AdaIN stylization of ``content`` (RGB, 0-1 scale; unclamped output)
    with the style held by ``style`` (:class:`FixedStyle` or :class:`ColourPreservingStyle`) and
    content-style trade-off ``alpha`` (Eq. 14)."""

    size_multiple = SIZE_MULTIPLE
    min_size = MIN_SIZE
    receptive_field_radius = RECEPTIVE_FIELD_RADIUS

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

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        style_mean, style_std = self.style(content)
        features = self.encoder(content)
        target = self.content_norm(features) * style_std + style_mean
        # The port's order (Eq. 14 as `feat * alpha + content_f * (1 - alpha)`): alpha 0 gives f(c) exactly.
        return self.decoder(target * self.alpha + features * (1 - self.alpha))

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"
