"""The stylize command (``stylenorm-stylize``, ``scripts/stylize.py``) and the export command (``stylenorm-export``:
writes the file only once it matches PyTorch at two sizes). Options and exit statuses: docs/stylize.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from stylenorm.atomic_files import atomic_path
from stylenorm.inference.export import DEFAULT_OPSET, EXPORT_FORMATS, export_onnx, export_torchscript, verify_export
from stylenorm.inference.image_io import OUTPUT_FORMATS, save_image
from stylenorm.inference.jobs import COMPILE_MODES, Job, batches, normalize_extension, plan_compile, plan_jobs
from stylenorm.inference.loading import DIRECTIONS, FORMATS, load_stylizer
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import PreparedImage, prepare, stylize_batch, to_image
from stylenorm.inference.styles import DEFAULT_STYLE_SIZE, parse_weights
from stylenorm.inference.stylizer import PRECISIONS, Stylizer, check_precision
from stylenorm.inference.tile_statistics import DEFAULT_FRAME_STATISTICS, TILE_STATISTICS, parse_frame_statistics
from stylenorm.inference.tiling import DEFAULT_AUTO_TILE_PIXELS, DEFAULT_TILE_STATISTICS
from stylenorm.inference.video import is_animated, stylize_animation, stylize_video
from stylenorm.inference.video_io import VIDEO_EXTENSIONS, is_video, probe_video
from stylenorm.speed import STYLIZE_COMPILE_MIN_MEGAPIXELS, resolve_inference_precision

PROG, EXPORT_PROG = "stylize", "export"
_EXTENSIONS = {"onnx": ".onnx", "torchscript": ".pt"}
_FORMAT_OF_EXTENSION = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript", ".ts": "torchscript"}
#: The load_stylizer keywords that add_model_arguments' flags set (each flag's dest is its keyword).
MODEL_KEYWORDS = (
    "format",
    "direction",
    "trusted",
    "style",
    "style_images",
    "style_weights",
    "alpha",
    "preserve_color",
    "style_size",
    "encoder",
)
#: Export: a quarter of one 8-bit gray level.
DEFAULT_TOLERANCE = 1e-3


def bounded(convert: Callable[[str], float], accept: Callable[[float], bool], expected: str) -> Callable[[str], float]:
    """An argparse type: ``convert(text)`` where ``accept`` takes it, else "expected <expected>, got <text>"."""

    def parse(text: str) -> float:
        with contextlib.suppress(ValueError):
            if accept(value := convert(text)):
                return value
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")

    return parse


def reported(parse: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type whose ``ValueError`` is said as it is, not as argparse's 'invalid value'."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


positive_int = bounded(int, lambda value: value >= 1, "a positive integer")
non_negative_int = bounded(int, lambda value: value >= 0, "an integer >= 0")


def add_model_arguments(parser: argparse.ArgumentParser, format_flags: Sequence[str], exporting: bool = False) -> None:
    """The checkpoint and style flags the stylize and export commands share (:func:`load_from_arguments`)."""
    add = parser.add_argument
    add("--checkpoint", "-c", required=True, help="a .ckpt of train.py, or a public file: docs/public_checkpoints.md")
    add(*format_flags, dest="format", choices=FORMATS, default="auto", help="layout (default: detected)")
    add("--direction", choices=DIRECTIONS, help="the generator of this project's CycleGAN .ckpt (default AtoB)")
    trust = "unpickle what safe loading refuses: only for files you trust"
    add("--trust-checkpoint", dest="trusted", action="store_true", help=trust)
    group = parser.add_mutually_exclusive_group()  # both are style= of load_stylizer: an index or mix weights
    style = "style K of a norm=conditional_instance checkpoint (K = position in the run's data.style_images)"
    group.add_argument("--style", type=non_negative_int, metavar="K", help=style)
    mix = reported(lambda text: parse_weights(text, "--style-mix"))
    mixing = "mix of those styles: weights >= 0, sum 1"
    group.add_argument("--style-mix", dest="style", type=mix, metavar="W0,W1,...", help=mixing)
    group = parser.add_argument_group(
        "AdaIN (model=adain checkpoints, the public decoder.pth)",
        "the style comes from images, fixed for the whole run" + (" and baked into the file" if exporting else ""),
    )
    add = group.add_argument
    add("--style-image", dest="style_images", nargs="+", metavar="IMAGE", help="style image(s); AdaIN only, required")
    weights = reported(lambda text: parse_weights(text, "--style-weights"))
    add("--style-weights", type=weights, metavar="W1,W2,...", help="one per --style-image: >= 0, summing to 1")
    unit = bounded(float, lambda value: 0.0 <= value <= 1.0, "a number in [0, 1]")
    add("--alpha", type=unit, help="content-style trade-off (Eq. 14): 0 keeps the content, 1 (default) full style")
    size = f"shorter side of the style images in px (default {DEFAULT_STYLE_SIZE}; 0 keeps them)"
    add("--style-size", type=non_negative_int, metavar="N", help=size)
    colours = "recolour the styles to each content image" + (" (not exportable)" if exporting else "")
    add("--preserve-color", action="store_true", help=colours)
    add("--adain-encoder", dest="encoder", metavar="VGG_PTH", help="vgg_normalised.pth for a public AdaIN decoder.pth")


def load_from_arguments(args: argparse.Namespace, device: str) -> Stylizer:
    return load_stylizer(args.checkpoint, device=device, **{name: getattr(args, name) for name in MODEL_KEYWORDS})


def frame_statistics(text: str) -> str:
    parse_frame_statistics(text)
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Stylize or translate images with a checkpoint of this project or a public pretrained file.",
        epilog="Exit status: 0 all written, 1 some images failed (named on stderr), 2 nothing done (bad options).",
    )
    add_model_arguments(parser, ("--format", "--checkpoint-format"))
    add = parser.add_argument
    add("--input", "-i", required=True, nargs="+", help="image(s), a folder, a quoted glob pattern or video(s)")
    add("--output", "-o", required=True, help="a file for one input, else a folder (mirrors the input's paths)")
    add("--ext", help="write this format (png, jpg, webp, bmp, tif) instead of the input's")
    add("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    add("--precision", choices=PRECISIONS, default="auto", help="autocast; auto: bf16 where the hardware has it fast")
    compiling = f"torch.compile: auto (default) for sizes of >= {STYLIZE_COMPILE_MIN_MEGAPIXELS:g} megapixels a job"
    add("--compile", nargs="?", choices=COMPILE_MODES, default="auto", const="always", help=compiling)
    add("--batch-size", type=positive_int, default=1, help="stylize up to N same-size images together")
    add("--scale", type=bounded(float, lambda value: value > 0, "a number > 0"), help="resize by this factor first")
    add("--max-size", type=positive_int, help="cap the longest side at N px (keeps the aspect)")
    add("--tile", type=positive_int, help="run in N x N tiles (bounded memory for huge images)")
    overlap = "overlap of tiles in px (default: an eighth of the tile)"
    add("--tile-overlap", dest="overlap", type=non_negative_int, help=overlap)
    automatic = f"tile images of more pixels than this (default {DEFAULT_AUTO_TILE_PIXELS} = 2048x2048; 0 = never)"
    add("--auto-tile-pixels", type=non_negative_int, default=DEFAULT_AUTO_TILE_PIXELS, help=automatic)
    tiles = "norm statistics of tiles: exact (default), thumbnail (approximate, faster) or per-tile (visible seams)"
    add("--tile-stats", choices=TILE_STATISTICS, default=DEFAULT_TILE_STATISTICS, help=tiles)
    frames = "video: norm statistics per-frame (default), window:N (the N frames around each) or clip (all)"
    add("--frame-stats", type=reported(frame_statistics), default=DEFAULT_FRAME_STATISTICS, metavar="MODE", help=frames)
    add("--quiet", "-q", action="store_true", help="no progress bar and no summary line")
    return parser


def describe(error: BaseException) -> str:
    """One line for a person: the exception type and message, plus what to try for memory errors."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        reason += " - try --tile 1024 (or smaller), --max-size, or --batch-size 1"
    return reason


@dataclasses.dataclass
class Runner:
    """Stylizes planned jobs in batches of equal-size images, counting what was written and what failed."""

    model: Stylizer
    options: InferenceOptions
    args: argparse.Namespace
    progress: tqdm
    written: int = 0
    failed: int = 0

    def fail(self, job: Job, error: BaseException) -> None:
        self.failed += 1
        self.progress.write(f"{PROG}: skipped {job.source}: {describe(error)}", file=sys.stderr)
        self.progress.update()

    def run(self, jobs: Sequence[Job]) -> None:
        """Each job in the :func:`batches` of its images; a file that cannot be read is named and skipped."""

        def read() -> Iterator[tuple[Job, PreparedImage | None]]:
            for job in jobs:
                clip = is_video(job.source) or is_animated(job.source)  # every frame, written back as a clip
                try:  # prepare runs before the yield: only its errors land here
                    yield job, None if clip else prepare(job.source, self.options)
                except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for bad files
                    self.fail(job, error)

        for batch in batches(read(), lambda item: item[1].size if item[1] else None, self.options):
            if batch[0][1] is None:
                self._run_clip(batch[0][0])
            else:
                self._run(batch)

    def _run_clip(self, job: Job) -> None:
        """One video (frames written as ``--ext`` says, with a progress bar of frames) or animated image."""
        try:
            if is_video(job.source):
                total = probe_video(job.source).frames * (1 if self.options.frame_stats == "per-frame" else 2) or None
                ext = normalize_extension(self.args.ext, VIDEO_EXTENSIONS)
                ext = ext if ext in OUTPUT_FORMATS else ".png"  # a folder of frames; a video extension names the file
                with tqdm(total=total, unit="frame", desc=job.source.name, disable=self.args.quiet, leave=False) as bar:

                    def progress(stage: str, count: int) -> None:
                        bar.set_postfix_str(stage, refresh=False)
                        bar.update(count)

                    stylize_video(job.source, job.target, self.model, self.options, ext=ext, progress=progress)
            else:
                stylize_animation(job.source, job.target, self.model, self.options)
        except Exception as error:
            self.fail(job, error)
            return
        self.written += 1
        self.progress.update()

    def _run(self, batch: list[tuple[Job, PreparedImage]]) -> None:
        height, width = batch[0][1].size
        label = f"{batch[0][0].source.name} ({width}x{height}, {self.options.tile_stats} tile statistics)"
        tiled = self.options.tile_for(height, width) is not None  # a second bar: a 100-megapixel image takes minutes
        hidden = True if self.args.quiet or not tiled else None  # None: shown on a terminal
        logged_tenths = set()

        def progress(done: int, total: int) -> None:
            tiles.total = total
            tiles.update(done - tiles.n)
            if done == total:
                tiles.refresh()  # the final count, however short the last interval
            tenth = done * 10 // max(total, 1)
            if tiles.disable and not self.args.quiet and tenth not in logged_tenths:  # no terminal: a line per 10%
                logged_tenths.add(tenth)
                print(f"stylize: {label}: {done}/{total} tile passes", file=sys.stderr, flush=True)

        with tqdm(desc=label, unit="tile", leave=False, disable=hidden, file=sys.stderr) as tiles:
            try:
                pixels = torch.stack([prepared.pixels for _, prepared in batch])
                outputs = stylize_batch(pixels, self.model, self.options, progress=progress if tiled else None)
            except Exception as error:
                if len(batch) > 1:  # e.g. out of memory for the batch: one at a time names the real culprit
                    for item in batch:
                        self._run([item])
                else:
                    self.fail(batch[0][0], error)
                return
        for (job, prepared), output in zip(batch, outputs, strict=True):
            try:
                save_image(to_image(output, prepared.alpha), job.target)
            except Exception as error:  # disk full, permissions: name the file, keep going
                self.fail(job, error)
                continue
            self.written += 1
            self.progress.update()
            self.warn_if_constant(job, output, prepared)

    def warn_if_constant(self, job: Job, output: torch.Tensor, prepared: PreparedImage) -> None:
        """A single-colour result from an input that is not: what a diverged checkpoint produces."""
        flat = bool((output == output[:, :1, :1]).all())
        if flat and not bool((prepared.pixels == prepared.pixels[:, :1, :1]).all()):
            colour = tuple(int(v) for v in output[:, 0, 0])
            self.progress.write(
                f"{PROG}: warning: {job.target} is one flat colour, RGB {colour}, though {job.source.name} is not: "
                f"the checkpoint may have diverged in training; try another checkpoint.",
                file=sys.stderr,
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        jobs = plan_jobs(args.input, args.output, ext=args.ext)
        model = load_from_arguments(args, args.device)
        check_precision(args.precision, model.device)
        names = {field.name for field in dataclasses.fields(InferenceOptions)} - {"precision"}
        options = InferenceOptions(
            precision=resolve_inference_precision(args.precision, model.device),
            **{name: getattr(args, name) for name in names},  # each flag's dest is its field's name
        )
        options.check_tiling(model)
        compiling, shapes, reason = plan_compile(args.compile, jobs, model, options)
        if compiling:
            model.compile(shapes)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        how = options.precision + (", compiled" if compiling else ", eager")
        print(f"{PROG}: {len(jobs)} image(s) with {model.description} on {model.device} ({how})")
        if args.compile == "auto":
            print(f"{PROG}: --compile auto: {reason}")
    with tqdm(total=len(jobs), unit="image", disable=True if args.quiet or len(jobs) == 1 else None) as progress:
        runner = Runner(model, options, args, progress)
        try:
            runner.run(jobs)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted after {runner.written} written, {runner.failed} failed.", file=sys.stderr)
            return 130
    elapsed = time.perf_counter() - started
    if not args.quiet:
        where = jobs[0].target if len(jobs) == 1 else args.output
        print(f"{PROG}: {runner.written} written, {runner.failed} failed, {elapsed:.1f} s -> {where}")
    return 1 if runner.failed else 0


class ExportCheckFailed(Exception):
    """The exported file disagrees with PyTorch; it is not written."""


def build_export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=EXPORT_PROG,
        description="Export a checkpoint's network to ONNX or TorchScript: float32 RGB (N, 3, H, W) in [0, 1] "
        "in and out, dynamic height and width, pixel convention included.",
    )
    add_model_arguments(parser, ("--checkpoint-format",), exporting=True)  # a style or AdaIN's styles baked in
    add = parser.add_argument
    add("--format", "-f", dest="export_format", choices=EXPORT_FORMATS, help="default: from the --output extension")
    add("--output", "-o", required=True, help="file to write (.onnx or .pt)")
    add("--sample-size", type=positive_int, default=256, help="side of the square image traced (any works)")
    add("--opset", type=positive_int, default=DEFAULT_OPSET, help="ONNX opset version")
    tolerance = bounded(float, lambda value: math.isfinite(value) and value >= 0, "a finite number >= 0")
    limit = f"largest max abs difference to PyTorch on [0, 1] that passes (default {DEFAULT_TOLERANCE:g}); exit 1 above"
    add("--tolerance", type=tolerance, default=DEFAULT_TOLERANCE, help=limit)
    return parser


def export_output(args: argparse.Namespace) -> tuple[Path, str]:
    """``(--output with its extension, format)``; refuses an unknown format and overwriting the checkpoint."""
    output = Path(args.output)
    chosen = args.export_format or _FORMAT_OF_EXTENSION.get(output.suffix.lower())
    if chosen is None:
        raise ValueError(f"Cannot tell the export format from {output}: pass --format onnx or --format torchscript.")
    output = output if output.suffix else output.with_suffix(_EXTENSIONS[chosen])
    checkpoint = Path(args.checkpoint)
    if output.exists() and checkpoint.exists() and os.path.samefile(output, checkpoint):  # hard links too
        suggestion = output.with_name(f"{output.stem}.export{_EXTENSIONS[chosen]}")
        raise ValueError(f"--output {output} is the checkpoint being exported: choose another, e.g. {suggestion}.")
    if args.preserve_color:
        why = "it recolours the styles per content image and recomputes their statistics"
        raise ValueError(f"--preserve-color cannot be exported: {why}. Export without it.")
    return output, chosen


def export_main(argv: Sequence[str] | None = None) -> int:
    args = build_export_parser().parse_args(argv)
    try:
        output, chosen = export_output(args)
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
        print(f"{EXPORT_PROG}: error: {error}", file=sys.stderr)
        return 1 if isinstance(error, ExportCheckFailed) else 2
    print(f"{EXPORT_PROG}: wrote {output} ({chosen}) from {model.description}")
    smallest = max(8, model.min_size)
    print(
        f"{EXPORT_PROG}: float32 RGB (N, 3, H, W) in [0, 1] in and out; height and width are dynamic (>= {smallest} px)"
    )
    if difference is None:
        print(f"{EXPORT_PROG}: not checked: onnxruntime is not installed (pip install onnxruntime)")
    else:
        print(
            f"{EXPORT_PROG}: checked at {shown}: max abs difference to PyTorch {difference:.2e} (on [0, 1]), "
            f"within the tolerance {args.tolerance:g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
