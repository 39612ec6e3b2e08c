"""The stylize command: ``python scripts/stylize.py`` or ``stylenorm-stylize``.

Argument parsing, the progress bar and the exit status only: loading, resizing, tiling and writing are the
:mod:`stylenorm.inference` functions a Python user calls. Exit status: 0 when every image was written, 1 when
some could not be (each is named on stderr and the rest are still processed), 2 for a problem that stops the
run before it starts (bad checkpoint, option or path). Examples and every option: docs/stylize.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence

import torch
from tqdm import tqdm

from stylenorm.inference.adain import DEFAULT_STYLE_SIZE
from stylenorm.inference.animation import is_animated, stylize_animation
from stylenorm.inference.compile_plan import COMPILE_MODES, plan_compile
from stylenorm.inference.image_io import save_image
from stylenorm.inference.jobs import Job, plan_jobs
from stylenorm.inference.loading import DIRECTIONS, FORMATS, load_stylizer
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import PreparedImage, prepare, stylize_batch, to_image
from stylenorm.inference.styles import StyleChoice, parse_weights
from stylenorm.inference.stylizer import PRECISIONS, Stylizer, check_precision
from stylenorm.inference.tile_statistics import TILE_STATISTICS
from stylenorm.inference.tiling import DEFAULT_AUTO_TILE_PIXELS, DEFAULT_TILE_STATISTICS
from stylenorm.inference.video import plan_video_jobs
from stylenorm.inference.video_cli import add_video_arguments, run_video_job
from stylenorm.inference.video_io import is_video
from stylenorm.speed import STYLIZE_COMPILE_MIN_MEGAPIXELS, resolve_inference_precision

PROG = "stylize"


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def add_checkpoint_arguments(parser: argparse.ArgumentParser, format_flags: Sequence[str]) -> None:
    """``--checkpoint``, its format override, ``--direction`` and ``--trust-checkpoint`` (shared with export)."""
    parser.add_argument(
        "--checkpoint", "-c", required=True, help="a .ckpt of train.py, a fast-neural-style .pth/.model, "
        "a CycleGAN generator .pth (latest_net_G_A.pth, horse2zebra.pth) or an AdaIN decoder.pth (with --adain-encoder)"
    )  # fmt: skip
    parser.add_argument(
        *format_flags, dest="checkpoint_format", choices=FORMATS, default="auto",
        help="checkpoint layout (default: detected from the file's keys)",
    )  # fmt: skip
    parser.add_argument(
        "--direction", choices=DIRECTIONS, default=None,
        help="which generator of this project's CycleGAN .ckpt to run (default AtoB); public generator "
        "files hold one direction already",
    )  # fmt: skip
    parser.add_argument(
        "--trust-checkpoint", action="store_true",
        help="unpickle files that safe loading (weights_only) refuses; only for files you trust",
    )  # fmt: skip


def weights_argument(flag: str) -> Callable[[str], list[float]]:
    """The argparse type of ``flag``'s comma-separated weights: their error said as it is, not 'invalid value'."""

    def parse(text: str) -> list[float]:
        try:
            return parse_weights(text, flag)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def add_style_arguments(parser: argparse.ArgumentParser) -> None:
    """``--style`` / ``--style-mix`` for multi-style checkpoints (shared with export)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--style", type=non_negative_int, default=None, metavar="K",
        help="style K of a norm=conditional_instance checkpoint (Dumoulin et al. 2017; K = position in the "
        "run's data.style_images)",
    )  # fmt: skip
    group.add_argument(
        "--style-mix", type=weights_argument("--style-mix"), default=None, metavar="W0,W1,...",
        help="convex combination of such a checkpoint's styles (their gammas/betas), one weight per style, "
        "non-negative and summing to 1 (other sums are refused), e.g. 0.3,0.7",
    )  # fmt: skip


def unit_float(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def add_adain_arguments(parser: argparse.ArgumentParser, exporting: bool = False) -> None:
    """Style images and options for AdaIN checkpoints (Huang & Belongie 2017; shared with export)."""
    group = parser.add_argument_group(
        "AdaIN (model=adain checkpoints, the public decoder.pth)",
        "arbitrary style transfer: the style comes from images, fixed for the whole run"
        + (" and baked into the exported file" if exporting else ""),
    )
    group.add_argument(
        "--style-image", nargs="+", default=None, metavar="IMAGE",
        help="style image(s); required for AdaIN, refused for other checkpoints. Several are interpolated "
        "with --style-weights (Sec. 7.3 of the paper)",
    )  # fmt: skip
    group.add_argument(
        "--style-weights", type=weights_argument("--style-weights"), default=None, metavar="W1,W2,...",
        help="interpolation weights, one per --style-image in the same order, non-negative and summing to 1 "
        "(other sums are refused, not rescaled): the weighted sum of the AdaIN targets, e.g. 0.7,0.3",
    )  # fmt: skip
    group.add_argument(
        "--alpha", type=unit_float, default=None,
        help="content-style trade-off in [0, 1] (Eq. 14): the decoder gets alpha * AdaIN + (1 - alpha) * content "
        "features; 0 reconstructs the content, 1 (default) is the full style",
    )  # fmt: skip
    group.add_argument(
        "--style-size", type=non_negative_int, default=None, metavar="N",
        help=f"resize each style image so its shorter side is N px, up or down, bilinear (default "
        f"{DEFAULT_STYLE_SIZE}, as the paper's PyTorch port); 0 keeps the style images as they are. The style "
        f"statistics depend on the scale of its patterns, so N changes the result. Content images are not resized "
        f"(see --scale, --max-size)",
    )  # fmt: skip
    group.add_argument(
        "--preserve-color", action="store_true",
        help="keep the content's colours: each style image is given the content image's colour mean and "
        "covariance before its statistics are taken (the port's --preserve_color), for every content image"
        + (" - not exportable, refused here" if exporting else ""),
    )  # fmt: skip
    group.add_argument(
        "--adain-encoder", default=None, metavar="VGG_PTH",
        help="the encoder file that goes with a public AdaIN decoder.pth (vgg_normalised.pth of "
        "naoto0804/pytorch-AdaIN); train.py checkpoints hold their encoder, leave it out for them",
    )  # fmt: skip


def adain_options(args: argparse.Namespace) -> dict:
    """``load_stylizer`` keyword arguments from :func:`add_adain_arguments`'s flags."""
    return {
        "style_images": args.style_image,
        "style_weights": args.style_weights,
        "alpha": args.alpha,
        "preserve_color": args.preserve_color,
        "style_size": args.style_size,
        "encoder": args.adain_encoder,
    }


def style_choice(args: argparse.Namespace) -> StyleChoice:
    return args.style if args.style is not None else args.style_mix


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Stylize or translate images with a checkpoint of this project or a public pretrained file.",
        epilog="Exit status: 0 all written, 1 some images failed (named on stderr), 2 nothing done (bad options).",
    )
    add_checkpoint_arguments(parser, ("--format", "--checkpoint-format"))
    add_style_arguments(parser)
    add_adain_arguments(parser)
    parser.add_argument(
        "--input", "-i", required=True, nargs="+",
        help="an image, a folder (recursive), a quoted glob pattern ('photos/**/*.jpg') or a video (.mp4, .mov, .mkv, "
        ".webm, .avi)",
    )  # fmt: skip
    parser.add_argument(
        "--output", "-o", required=True,
        help="an image file for one input image, otherwise a folder (mirrors the input's relative paths); for a "
        "video: a video file, an animated .gif/.webp, or a folder of frames (--ext their format)",
    )  # fmt: skip
    parser.add_argument("--ext", help="write this format (png, jpg, webp, bmp, tif) instead of the input's")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="autocast precision; auto = bf16 where the hardware has fast bf16 (recent CPUs, GPUs), else fp32. "
        "bf16 is not pixel-identical to fp32 (how far, measured: docs/stylize.md); fp32 reproduces the public "
        "models' own code within 1 gray level",
    )  # fmt: skip
    parser.add_argument(
        "--compile", nargs="?", choices=COMPILE_MODES, default="auto", const="always",
        help="torch.compile the network: each new image size compiles first, then runs faster than eager (timings: "
        f"docs/performance.md). auto (default): only for the image sizes this job runs at least "
        f"{STYLIZE_COMPILE_MIN_MEGAPIXELS:g} megapixels of (e.g. 25 images of 1024x1024), the rest eager; the "
        "choice and why are printed. always (also plain --compile): every size. never: eager",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=positive_int, default=1,
        help="stylize up to N consecutive images of the same size together",
    )  # fmt: skip
    parser.add_argument("--scale", type=positive_float, help="resize by this factor before stylizing")
    parser.add_argument("--max-size", type=positive_int, help="cap the longest side at N px (keeps the aspect)")
    parser.add_argument("--tile", type=positive_int, help="run in N x N tiles (bounded memory for huge images)")
    parser.add_argument(
        "--tile-overlap", type=non_negative_int,
        help="overlap of neighbouring tiles in px, at most half a tile (default: an eighth of the tile; for AdaIN "
        "at least 256 px, four times its receptive-field radius, as far as half the tile allows)",
    )  # fmt: skip
    parser.add_argument(
        "--auto-tile-pixels", type=non_negative_int, default=DEFAULT_AUTO_TILE_PIXELS,
        help=f"tile images with more pixels than this automatically, in tiles of at most this many pixels "
        f"(default {DEFAULT_AUTO_TILE_PIXELS} = 2048x2048; 0 = never)",
    )  # fmt: skip
    parser.add_argument(
        "--tile-stats", choices=TILE_STATISTICS, default=DEFAULT_TILE_STATISTICS,
        help="statistics of instance/group/layer norm (and of AdaIN's content normalisation) when tiling: exact "
        "(the untiled network's, accumulated over the tiles, one partial pass per norm layer; default), thumbnail "
        "(from one pass over a downscaled copy, approximate, faster) or per-tile (each tile its own: visible "
        "differences). With --preserve-color, exact and thumbnail recolour the styles to the whole image, "
        "per-tile to each tile",
    )  # fmt: skip
    add_video_arguments(parser)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary line")
    return parser


def describe(error: BaseException) -> str:
    """One line for a person: the exception type and message, plus what to try for memory errors."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        reason += " - try --tile 1024 (or smaller), --max-size, or --batch-size 1"
    return reason


class Runner:
    """Stylizes planned jobs in batches of equal-size images, counting what was written and what failed."""

    def __init__(self, model: Stylizer, options: InferenceOptions, args: argparse.Namespace, progress: tqdm):
        self.model = model
        self.options = options
        self.args = args
        self.progress = progress
        self.written = 0
        self.failed = 0
        self.pending: list[tuple[Job, PreparedImage]] = []

    def fail(self, job: Job, error: BaseException) -> None:
        self.failed += 1
        self.progress.write(f"{PROG}: skipped {job.source}: {describe(error)}", file=sys.stderr)
        self.progress.update()

    def add(self, job: Job) -> None:
        """Read one image and queue it; full or incompatible batches are stylized first."""
        if is_video(job.source) or is_animated(job.source):  # every frame, written back as a video or animation
            self.flush()
            self._run_clip(job)
            return
        options = self.options
        try:
            prepared = prepare(job.source, scale=options.scale, max_size=options.max_size)
        except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for bad files
            self.fail(job, error)
            return
        tiled = options.tile_for(*prepared.size) is not None
        full = len(self.pending) >= options.batch_size
        if self.pending and (tiled or full or self.pending[0][1].size != prepared.size):
            self.flush()
        self.pending.append((job, prepared))
        if tiled:  # tiled images run alone: their point is bounded memory
            self.flush()

    def _run_clip(self, job: Job) -> None:
        try:
            if is_video(job.source):
                run_video_job(job, self.model, self.options, self.args)
            else:
                stylize_animation(job.source, job.target, self.model, self.options)
        except Exception as error:
            self.fail(job, error)
            return
        self.written += 1
        self.progress.update()

    def flush(self) -> None:
        """Stylize and write the queued images."""
        batch, self.pending = self.pending, []
        if batch:
            self._run(batch)

    def _tile_bar(self, batch: list[tuple[Job, PreparedImage]]) -> tqdm | None:
        """A second bar, tile passes done / total, for a tiled image: one of 100 megapixels takes minutes."""
        if self.options.tile_for(*batch[0][1].size) is None:
            return None
        return tqdm(
            desc=self._label(batch),
            unit="tile",
            leave=False,
            disable=True if self.args.quiet else None,  # None: shown on a terminal
            file=sys.stderr,
        )

    def _label(self, batch: list[tuple[Job, PreparedImage]]) -> str:
        height, width = batch[0][1].size
        return f"{batch[0][0].source.name} ({width}x{height}, {self.options.tile_stats} tile statistics)"

    def _run(self, batch: list[tuple[Job, PreparedImage]]) -> None:
        args = self.args
        tiles = self._tile_bar(batch)

        logged_tenths = set()

        def progress(done: int, total: int) -> None:
            tiles.total = total
            tiles.update(done - tiles.n)
            if done == total:
                tiles.refresh()  # the final count, however short the last interval
            tenth = done * 10 // max(total, 1)
            if tiles.disable and not args.quiet and tenth not in logged_tenths:  # no terminal: a line per 10%
                logged_tenths.add(tenth)
                print(f"stylize: {self._label(batch)}: {done}/{total} tile passes", file=sys.stderr, flush=True)

        try:
            pixels = torch.stack([prepared.pixels for _, prepared in batch])
            outputs = stylize_batch(pixels, self.model, self.options, progress=progress if tiles is not None else None)
        except Exception as error:
            if len(batch) > 1:  # e.g. out of memory for the batch: one at a time names the real culprit
                for item in batch:
                    self._run([item])
                return
            self.fail(batch[0][0], error)
            return
        finally:
            if tiles is not None:
                tiles.close()
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
        """A single-colour result from an input that is not: what a diverged checkpoint (weights near
        1e30, still finite) produces, written without complaint otherwise."""
        flat = bool((output == output[:, :1, :1]).all())
        if flat and not bool((prepared.pixels == prepared.pixels[:, :1, :1]).all()):
            colour = tuple(int(v) for v in output[:, 0, 0])
            self.progress.write(
                f"{PROG}: warning: {job.target} is one flat colour, RGB {colour}, though {job.source.name} is not: "
                f"the checkpoint may have diverged in training (see its run's result.json); try another checkpoint.",
                file=sys.stderr,
            )


def inference_options(args: argparse.Namespace, precision: str) -> InferenceOptions:
    """The flags' :class:`InferenceOptions` (each flag's dest is its field's name but ``--tile-overlap``'s),
    with ``precision`` resolved for the model's device."""
    names = {field.name for field in dataclasses.fields(InferenceOptions)} - {"precision", "overlap"}
    return InferenceOptions(precision=precision, overlap=args.tile_overlap, **{n: getattr(args, n) for n in names})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        jobs = plan_video_jobs(args.input, args.output, args.ext) or plan_jobs(args.input, args.output, ext=args.ext)
        model = load_stylizer(
            args.checkpoint,
            format=args.checkpoint_format,
            direction=args.direction,
            device=args.device,
            trusted=args.trust_checkpoint,
            style=style_choice(args),
            **adain_options(args),
        )
        check_precision(args.precision, model.device)
        options = inference_options(args, resolve_inference_precision(args.precision, model.device))
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
            for job in jobs:
                runner.add(job)
            runner.flush()
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted after {runner.written} written, {runner.failed} failed.", file=sys.stderr)
            return 130
    elapsed = time.perf_counter() - started
    if not args.quiet:
        where = jobs[0].target if len(jobs) == 1 else args.output
        print(f"{PROG}: {runner.written} written, {runner.failed} failed, {elapsed:.1f} s -> {where}")
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
