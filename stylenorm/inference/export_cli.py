"""The export command (``stylenorm-export``): writes :mod:`stylenorm.inference.export`'s file, checks it against
PyTorch at two sizes (ONNX: if onnxruntime is installed) and renames it over ``--output`` only when it passes. Exit
status 2: nothing written (bad input); 1: a difference above ``--tolerance``. Usage: docs/stylize.md, "Export".
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from stylenorm.atomic_files import atomic_path
from stylenorm.inference.cli import add_model_arguments, bounded, load_from_arguments, positive_int
from stylenorm.inference.export import DEFAULT_OPSET, EXPORT_FORMATS, export_onnx, export_torchscript, verify_export

PROG = "export"
_EXTENSIONS = {"onnx": ".onnx", "torchscript": ".pt"}
_FORMAT_OF_EXTENSION = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript", ".ts": "torchscript"}
#: A quarter of one 8-bit gray level.
DEFAULT_TOLERANCE = 1e-3


class ExportCheckFailed(Exception):
    """The exported file disagrees with PyTorch; it is not written."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export a checkpoint's network to ONNX or TorchScript: float32 RGB (N, 3, H, W) in [0, 1] "
        "in and out, dynamic height and width, pixel convention included.",
    )
    add_model_arguments(parser, ("--checkpoint-format",), exporting=True)  # a style or AdaIN's styles baked in
    add = parser.add_argument
    add("--format", "-f", choices=EXPORT_FORMATS, help="what to write (default: from the --output extension)")
    add("--output", "-o", required=True, help="file to write (.onnx or .pt)")
    add("--sample-size", type=positive_int, default=256, help="side of the square image traced (any works)")
    add("--opset", type=positive_int, default=DEFAULT_OPSET, help="ONNX opset version")
    tolerance = bounded(float, lambda value: math.isfinite(value) and value >= 0, "a finite number >= 0")
    limit = f"largest max abs difference to PyTorch on [0, 1] that passes (default {DEFAULT_TOLERANCE:g}); exit 1 above"
    add("--tolerance", type=tolerance, default=DEFAULT_TOLERANCE, help=limit)
    return parser


def output_path(args: argparse.Namespace) -> tuple[Path, str]:
    """``(--output with its extension, format)``; refuses an unknown format and overwriting the checkpoint."""
    output = Path(args.output)
    chosen = args.format or _FORMAT_OF_EXTENSION.get(output.suffix.lower())
    if chosen is None:
        raise ValueError(f"Cannot tell the export format from {output}: pass --format onnx or --format torchscript.")
    output = output if output.suffix else output.with_suffix(_EXTENSIONS[chosen])
    checkpoint = Path(args.checkpoint)
    if output.exists() and checkpoint.exists() and os.path.samefile(output, checkpoint):  # hard links too
        suggestion = output.with_name(f"{output.stem}.export{_EXTENSIONS[chosen]}")
        raise ValueError(f"--output {output} is the checkpoint being exported: choose another, e.g. {suggestion}.")
    if args.preserve_color:
        raise ValueError(
            "--preserve-color cannot be exported: it recolours the styles per content image and recomputes their "
            "statistics. Export without it."
        )
    return output, chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        output, chosen = output_path(args)
        model = load_from_arguments(args, "cpu")
        size = (args.sample_size, args.sample_size)
        # The traced size and one whose sides are not multiples of 4: the dynamic shapes and padding work.
        sizes = (size, (args.sample_size + 2, args.sample_size + 6))
        shown = " and ".join(f"{h}x{w}" for h, w in sizes)
        with atomic_path(output) as temporary:  # renamed to --output only once written and checked
            if chosen == "onnx":
                export_onnx(model, temporary, sample_size=size, opset=args.opset)
            else:
                export_torchscript(model, temporary, sample_size=size)
            try:
                difference = verify_export(temporary, model, sizes, format=chosen)
            except ImportError:
                difference = None
            if difference is not None and not difference <= args.tolerance:  # also catches NaN and inf
                what = f"max abs difference {difference:.2e}" if math.isfinite(difference) else "a non-finite output"
                kept = "the earlier file there is unchanged" if output.exists() else "nothing was written"
                raise ExportCheckFailed(
                    f"the export differs from PyTorch at {shown}: {what} (on [0, 1]), above the tolerance "
                    f"{args.tolerance:g}. Not written to {output} ({kept}); try another --opset or --format torchscript"
                )
    except (ExportCheckFailed, ValueError, OSError, RuntimeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1 if isinstance(error, ExportCheckFailed) else 2
    print(f"{PROG}: wrote {output} ({chosen}) from {model.description}")
    smallest = max(8, model.min_size)
    print(f"{PROG}: float32 RGB (N, 3, H, W) in [0, 1] in and out; height and width are dynamic (>= {smallest} px)")
    if difference is None:
        print(f"{PROG}: not checked: onnxruntime is not installed (pip install onnxruntime)")
    else:
        print(
            f"{PROG}: checked at {shown}: max abs difference to PyTorch {difference:.2e} (on [0, 1]), "
            f"within the tolerance {args.tolerance:g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
