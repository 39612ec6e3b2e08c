"""A loaded network with what it needs to run on float 0-255 RGB batches of any size: :class:`Stylizer` pads them
to the network's size multiple, converts them to its :class:`PixelConvention`, runs it under a precision and crops
back. Conventions, as in the code each family's weights were published with: ``zero_to_255`` (fast-neural-style),
``signed`` (CycleGAN, [-1, 1]) and ``unit`` (the autoencoder, AdaIN, [0, 1]); sources: docs/modules.md."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable

import torch
from torch import nn

from stylenorm.inference.tiling import pad_to_multiple
from stylenorm.speed import compile_for_inference, resolve_inference_precision

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
        return pixels / self.divisor - self.offset

    def from_network(self, output: torch.Tensor) -> torch.Tensor:
        """Network output -> float 0-255 pixels, clamped as the original inference code does."""
        return ((output + self.offset) * self.divisor).clamp(0, 255)

    def quantize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float 0-255 pixels -> uint8; the cast truncates, like numpy's ``astype``, after +0.5 for ``round``."""
        return (pixels + (0.5 if self.rounding == "round" else 0)).clamp(0, 255).to(torch.uint8)


ZERO_TO_255 = PixelConvention("zero_to_255", divisor=1.0, offset=0.0, rounding="truncate")
SIGNED = PixelConvention("signed", divisor=127.5, offset=1.0, rounding="truncate")
UNIT = PixelConvention("unit", divisor=255.0, offset=0.0, rounding="round")
CONVENTIONS = {convention.name: convention for convention in (ZERO_TO_255, SIGNED, UNIT)}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``auto`` (or ``None``) -> CUDA when available, else CPU; anything else must be usable here."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"Unknown device {device!r}: {error}. Use auto, cpu, cuda or cuda:N.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r}: CUDA is not available here. Use --device cpu (or auto).")
    return resolved


def check_precision(precision: str, device: torch.device | None = None) -> None:
    """Refuse an unknown ``--precision``, and fp16 off CUDA where ``device`` is given."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)} (--precision).")
    if precision == "fp16" and device is not None and device.type != "cuda":
        raise ValueError(f"fp16 autocast needs a CUDA device, not {device.type}. Use --precision bf16 or fp32.")


def autocast(precision: str, device: torch.device):
    """Autocast context for ``bf16`` / ``fp16``; nothing for ``fp32``; ``auto`` as :mod:`stylenorm.speed` decides."""
    check_precision(precision, device)
    precision = resolve_inference_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_AUTOCAST_DTYPES[precision])


@dataclasses.dataclass
class Stylizer:
    """A network in eval mode on ``device``, its pixel convention, a ``description`` ending in its ``settings`` (the
    style fixed at loading); ``compiled`` (:meth:`compile`) for the padded shapes ``(N, H, W)``, ``compiled_shapes``."""

    network: nn.Module
    convention: PixelConvention
    description: str
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    compiled: bool = False
    compiled_shapes: frozenset[tuple[int, int, int]] | None = None
    settings: str = ""

    def __post_init__(self) -> None:
        self.to(self.device)

    def compile(self, shapes: Iterable[tuple[int, int, int]] | None = None) -> Stylizer:
        """Compile (inductor, weights frozen) for the padded input ``shapes`` (``None``: all)."""
        self.compiled = True
        self.compiled_shapes = None if shapes is None else frozenset(tuple(shape) for shape in shapes)
        return self.to(self.device)

    @property
    def size_multiple(self) -> int:  # the network takes heights and widths that are multiples of this ...
        return int(getattr(self.network, "size_multiple", 1))

    @property
    def min_size(self) -> int:  # ... and at least this
        return int(getattr(self.network, "min_size", 1))

    @property
    def receptive_field_radius(self) -> int:  # how far (px) an input pixel reaches in the output, if declared
        return int(getattr(self.network, "receptive_field_radius", 0))

    def to(self, device: str | torch.device) -> Stylizer:
        self.device = resolve_device(device)
        self.network = self.network.eval().requires_grad_(False).to(self.device)
        self._forward = compile_for_inference(self.network) if self.compiled else self.network
        return self

    @torch.inference_mode()
    def __call__(self, pixels: torch.Tensor, precision: str = "fp32", eager: bool = False) -> torch.Tensor:
        """Float 0-255 RGB ``(N, 3, H, W)`` -> the same on :attr:`device`; ``eager``: hooks must run, not compiled."""
        if pixels.dim() != 4 or pixels.shape[1] != 3:
            raise ValueError(f"Expected RGB images shaped (N, 3, H, W), got {tuple(pixels.shape)}.")
        padded = pad_to_multiple(pixels.to(self.device, torch.float32), self.size_multiple, self.min_size)
        with autocast(precision, self.device):
            shape = (padded.shape[0], *padded.shape[-2:])
            compiled = not eager and self.compiled and (self.compiled_shapes is None or shape in self.compiled_shapes)
            output = (self._forward if compiled else self.network)(self.convention.to_network(padded))
        # from_network in fp32: the final scaling and clamp must not lose gray levels.
        return self.convention.from_network(output.float())[..., : pixels.shape[-2], : pixels.shape[-1]]
