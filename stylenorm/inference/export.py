"""Exporting a stylizer to ONNX (torch's TorchScript-based exporter) or TorchScript (``torch.jit.trace``): float32
RGB ``(N, 3, H, W)`` in [0, 1] in and out, any size, pixel convention inside. Why: docs/modules.md; docs/stylize.md.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import warnings
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylenorm.atomic_files import atomic_path
from stylenorm.inference.stylizer import PixelConvention, Stylizer

EXPORT_FORMATS = ("onnx", "torchscript")
#: Default ONNX opset: reflection Pad, nearest Resize, InstanceNormalization and Mod all exist.
DEFAULT_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "image", "stylized"
CONVENTION_NOTE = "input: float32 RGB (N, 3, H, W) in [0, 1], H and W >= 8; output: float32 RGB in [0, 1], same size"


class ExportModule(nn.Module):
    """[0, 1] RGB in, [0, 1] RGB out, any size: a :class:`Stylizer` as one traceable module."""

    def __init__(self, network: nn.Module, convention: PixelConvention, size_multiple: int):
        super().__init__()
        self.network = network
        self.convention = convention
        self.size_multiple = size_multiple

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2], image.shape[-1]  # shape arithmetic, so tracing records it for every size
        padding = (0, (-width) % self.size_multiple, 0, (-height) % self.size_multiple)
        padded = F.pad(image * 255, padding, mode="reflect")
        output = self.convention.from_network(self.network(self.convention.to_network(padded))) / 255
        return output[..., :height, :width]


def export_module(stylizer: Stylizer) -> ExportModule:
    """The module the exporters write (CPU, eval mode); refuses a network with a ``not_exportable_because`` part."""
    for module in stylizer.network.modules():
        reason = getattr(module, "not_exportable_because", None)
        if reason:
            raise ValueError(f"{stylizer.description} cannot be exported: {reason}.")
    # A copy when the stylizer runs elsewhere: exporting must not move the caller's network.
    network = stylizer.network if stylizer.device.type == "cpu" else copy.deepcopy(stylizer.network).cpu()
    return ExportModule(network, stylizer.convention, stylizer.size_multiple).eval()


def _sample(size: tuple[int, int]) -> torch.Tensor:
    return torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))


@contextlib.contextmanager
def _tracing(stylizer: Stylizer, path: str | PathLike) -> Iterator[tuple[ExportModule, Path]]:
    """The module to trace and a temporary file, renamed to ``path`` on success; notes not actionable here silenced."""
    module = export_module(stylizer)
    with atomic_path(path) as temporary, warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the networks' size check
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch.onnx")  # its own internals
        warnings.filterwarnings("ignore", message=".*torch.jit.(trace|save).* is deprecated.*")
        warnings.filterwarnings("ignore", message=".*instance_norm.* train=True.*")  # IN uses input stats anyway
        warnings.filterwarnings("ignore", message=".*Constant folding.*")  # slicing by traced sizes stays dynamic
        yield module, temporary


def export_onnx(
    stylizer: Stylizer,
    path: str | PathLike,
    *,
    sample_size: tuple[int, int] = (256, 256),
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write ``path`` (.onnx) with dynamic batch, height and width, atomically; returns the path."""
    axes = {0: "batch", 2: "height", 3: "width"}
    with _tracing(stylizer, path) as (module, temporary):
        torch.onnx.export(
            module,
            (_sample(sample_size),),
            str(temporary),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
        )
        with contextlib.suppress(ImportError):  # the optional onnx package records metadata() for Netron, onnxruntime
            import onnx

            model = onnx.load(str(temporary))
            for key, value in metadata(stylizer).items():
                model.metadata_props.add(key=key, value=value)
            onnx.save(model, str(temporary))
    return Path(path)


def metadata(stylizer: Stylizer) -> dict[str, str]:
    return {
        # AdaIN needs 16 px (two positions per channel at relu4_1 for its statistics).
        "stylenorm.pixels": CONVENTION_NOTE.replace(">= 8", f">= {max(8, stylizer.min_size)}"),
        "stylenorm.source": stylizer.description,
        "stylenorm.convention": stylizer.convention.name,
        "stylenorm.rounding": stylizer.convention.rounding,
    }


def export_torchscript(stylizer: Stylizer, path: str | PathLike, *, sample_size: tuple[int, int] = (256, 256)) -> Path:
    """Write ``path`` (.pt) with ``torch.jit.trace``, atomically; load with ``torch.jit.load``; returns the path."""
    with _tracing(stylizer, path) as (module, temporary):
        traced = torch.jit.trace(module, (_sample(sample_size),))
        torch.jit.save(traced, str(temporary), _extra_files={"stylenorm.json": json.dumps(metadata(stylizer))})
    return Path(path)


def run_exported(path: str | PathLike, images: torch.Tensor, format: str | None = None) -> torch.Tensor:
    """Run an exported file on [0, 1] images (onnxruntime or torch.jit, by ``format`` or else the extension)."""
    path = Path(path)
    if (format or ("onnx" if path.suffix.lower() == ".onnx" else "torchscript")) == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (output,) = session.run(None, {INPUT_NAME: images.float().numpy()})
        return torch.from_numpy(output)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.load.* is deprecated.*")
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(images.float())


def verify_export(
    path: str | PathLike,
    stylizer: Stylizer,
    sizes: tuple[tuple[int, int], ...] = ((256, 256), (200, 328)),
    format: str | None = None,
) -> float:
    """Largest absolute difference (on [0, 1]) to PyTorch over ``sizes``; ``inf`` for NaN or inf on either side."""
    module = export_module(stylizer)
    worst = 0.0
    for size in sizes:
        images = _sample(size)
        with torch.no_grad():
            expected = module(images)
        exported = run_exported(path, images, format)
        if not (torch.isfinite(exported).all() and torch.isfinite(expected).all()):
            return math.inf
        worst = max(worst, (exported - expected).abs().max().item())
    return worst
