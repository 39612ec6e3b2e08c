"""A loaded network together with what is needed to run it on pixels: :class:`Stylizer`.

A Stylizer takes float 0-255 RGB batches of any size and returns float 0-255 RGB batches of the
same size: it pads to the network's size multiple (:mod:`stylenorm.inference.padding`), converts to
the network's pixel range (:mod:`stylenorm.inference.conventions`), runs the network under the
requested precision and crops back. Tiling, resizing, alpha and files live elsewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable

import torch
from torch import nn

from stylenorm.inference.conventions import PixelConvention
from stylenorm.inference.padding import crop_padding, pad_to_multiple
from stylenorm.speed import compile_for_inference, resolve_inference_precision

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
        raise ValueError(
            f"Device {device!r} asked for, but CUDA is not available here (torch {torch.__version__}, "
            f"no usable GPU found). Use --device cpu (or auto)."
        )
    return resolved


def check_precision(precision: str, device: torch.device) -> None:
    """Raise a readable error for a precision this device cannot run."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}.")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"fp16 autocast needs a CUDA device, but the network runs on {device.type}. "
            f"Use --precision bf16 (fast on CPUs with AVX-512 bf16 / AMX) or fp32."
        )


def autocast(precision: str, device: torch.device):
    """Autocast context for ``bf16`` / ``fp16``; nothing for ``fp32``; ``auto`` as :mod:`stylenorm.speed` decides."""
    check_precision(precision, device)
    precision = resolve_inference_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_AUTOCAST_DTYPES[precision])


@dataclasses.dataclass
class Stylizer:
    """A network in eval mode on ``device``, with its pixel convention.

    Attributes:
        network: an image-to-image ``nn.Module`` (TransformerNet, ResnetGenerator, autoencoder).
        convention: how its pixels are scaled and quantised.
        description: what was loaded, for messages (e.g. ``"ResnetGenerator G_BA from run.ckpt"``).
        device: where the network runs; inputs are moved there and outputs returned there.
        compiled: run through ``torch.compile`` with weight freezing (:meth:`compile`).
        compiled_shapes: with ``compiled``, the padded network input shapes ``(N, H, W)`` that use the
            compiled forward; ``None``: every shape. Others run eager (``--compile auto`` compiles only
            for the shapes a job repeats enough, :mod:`stylenorm.inference.compile_plan`).
    """

    network: nn.Module
    convention: PixelConvention
    description: str
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    compiled: bool = False
    compiled_shapes: frozenset[tuple[int, int, int]] | None = None

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)  # a string such as "cuda:1" is fine too
        self.network = self.network.eval().requires_grad_(False).to(self.device)
        self._forward = compile_for_inference(self.network) if self.compiled else self.network

    def compile(self, shapes: Iterable[tuple[int, int, int]] | None = None) -> Stylizer:
        """Run the network through ``torch.compile`` (inductor, weights frozen); returns self.

        The first image of each new size (after padding) compiles for tens of seconds on a CPU and
        every later one of that size runs several times faster (docs/performance.md): worth it for
        folders and video frames of one size, not for a single image. ``shapes``: compile only for
        these padded input shapes ``(N, H, W)``, run the rest eager; ``None``: every shape.
        """
        self.compiled = True
        self.compiled_shapes = None if shapes is None else frozenset(tuple(shape) for shape in shapes)
        self._forward = compile_for_inference(self.network)
        return self

    def runs_compiled(self, shape: tuple[int, ...]) -> bool:
        """Whether a padded input of ``shape`` (``(N, C, H, W)`` or ``(N, H, W)``) takes the compiled forward."""
        if not self.compiled:
            return False
        return self.compiled_shapes is None or (shape[0], shape[-2], shape[-1]) in self.compiled_shapes

    @property
    def size_multiple(self) -> int:
        """Height and width the network accepts are multiples of this (after padding)."""
        return int(getattr(self.network, "size_multiple", 1))

    @property
    def min_size(self) -> int:
        """... and at least this."""
        return int(getattr(self.network, "min_size", 1))

    @property
    def receptive_field_radius(self) -> int:
        """How far (px) an input pixel reaches in the output, where the network declares it (else 0):
        tiles then overlap enough by default (:func:`~stylenorm.inference.tiling.default_overlap`)."""
        return int(getattr(self.network, "receptive_field_radius", 0))

    def to(self, device: str | torch.device) -> Stylizer:
        """Move the network to ``device`` (``auto`` allowed); returns self."""
        self.device = resolve_device(device)
        self.network = self.network.to(self.device)
        self._forward = compile_for_inference(self.network) if self.compiled else self.network
        return self

    @torch.inference_mode()
    def __call__(self, pixels: torch.Tensor, precision: str = "fp32", eager: bool = False) -> torch.Tensor:
        """Float 0-255 RGB ``(N, 3, H, W)`` -> float 0-255 RGB of the same size, on :attr:`device`.

        ``precision``: ``fp32``, ``bf16``, ``fp16`` (CUDA) autocast, or ``auto`` (bf16 where the
        hardware has fast bf16, else fp32). ``eager``: skip the compiled forward (when forward hooks
        must run, as in :mod:`stylenorm.inference.tile_statistics`).
        """
        if pixels.dim() != 4 or pixels.shape[1] != 3:
            raise ValueError(f"Expected RGB images shaped (N, 3, H, W), got {tuple(pixels.shape)}.")
        padded, padding = pad_to_multiple(pixels.to(self.device, torch.float32), self.size_multiple, self.min_size)
        with autocast(precision, self.device):
            compiled = not eager and self.runs_compiled(tuple(padded.shape))
            output = (self._forward if compiled else self.network)(self.convention.to_network(padded))
        # from_network in fp32: the final scaling and clamp must not lose gray levels.
        return crop_padding(self.convention.from_network(output.float()), padding)
