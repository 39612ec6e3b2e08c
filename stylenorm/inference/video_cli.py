"""The stylize command's video options and one video job (:mod:`stylenorm.inference.video`), with a
per-frame progress bar. Kept apart so :mod:`stylenorm.inference.cli` only routes video inputs here."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from stylenorm.inference.frame_statistics import DEFAULT_FRAME_STATISTICS, parse_frame_statistics
from stylenorm.inference.image_io import OUTPUT_FORMATS
from stylenorm.inference.jobs import Job
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.video import stylize_video
from stylenorm.inference.video_io import probe_video


def frame_statistics(text: str) -> str:
    try:
        parse_frame_statistics(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """``--frame-stats`` (video inputs)."""
    parser.add_argument(
        "--frame-stats", type=frame_statistics, default=DEFAULT_FRAME_STATISTICS, metavar="per-frame|window:N|clip",
        help="video inputs: the statistics of instance/group/layer norm (and AdaIN's content normalisation) per frame "
        "(default), pooled over the N frames around each frame (window:N), or over the whole clip (clip): steadier "
        "colours under motion and fades, less adaptation per frame; costs a second pass over the clip",
    )  # fmt: skip


def run_video_job(job: Job, model: Stylizer, options: InferenceOptions, args: argparse.Namespace) -> None:
    """Stylize one video job with ``options``, written as ``args.ext`` says, with a progress bar of frames."""
    frames = probe_video(job.source).frames
    passes = 1 if options.frame_stats == "per-frame" else 2
    ext = args.ext and "." + args.ext.lower().lstrip(".")
    ext = ext if ext in OUTPUT_FORMATS else ".png"
    bar = tqdm(total=frames * passes or None, unit="frame", desc=job.source.name, disable=args.quiet, leave=False)
    with bar:

        def progress(stage: str, count: int) -> None:
            bar.set_postfix_str(stage, refresh=False)
            bar.update(count)

        stylize_video(job.source, job.target, model, options, ext=ext, progress=progress)
