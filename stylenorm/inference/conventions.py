"""Pixel conventions, as in the code each family's weights were published with: ``zero_to_255`` (fast-neural-style),
``signed`` (CycleGAN, [-1, 1]) and ``unit`` (the autoencoder, AdaIN, [0, 1]). Sources: docs/modules.md."""

from __future__ import annotations

import dataclasses

import torch

ROUNDING_MODES = ("truncate", "round")


@dataclasses.dataclass(frozen=True)
class PixelConvention:
    """``network input = pixels_0_255 / divisor - offset``; outputs map back and become uint8 by ``rounding``."""

    name: str
    divisor: float
    offset: float
    rounding: str

    def __post_init__(self) -> None:
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {self.rounding!r}.")

    def to_network(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float 0-255 pixels -> the network's input range."""
        return pixels / self.divisor - self.offset if self.divisor != 1 or self.offset != 0 else pixels

    def from_network(self, output: torch.Tensor) -> torch.Tensor:
        """Network output -> float 0-255 pixels, clamped as the original inference code does."""
        if self.divisor != 1 or self.offset != 0:
            output = (output + self.offset) * self.divisor
        return output.clamp(0, 255)

    def quantize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float 0-255 pixels -> uint8; the cast truncates, like numpy's ``astype``, after +0.5 for ``round``."""
        pixels = pixels.clamp(0, 255) + (0.5 if self.rounding == "round" else 0)
        return pixels.clamp(0, 255).to(torch.uint8)


ZERO_TO_255 = PixelConvention("zero_to_255", divisor=1.0, offset=0.0, rounding="truncate")
SIGNED = PixelConvention("signed", divisor=127.5, offset=1.0, rounding="truncate")
UNIT = PixelConvention("unit", divisor=255.0, offset=0.0, rounding="round")
CONVENTIONS = {convention.name: convention for convention in (ZERO_TO_255, SIGNED, UNIT)}
