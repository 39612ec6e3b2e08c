"""Flicker per normalization: checkpoints x known-motion clips x ``--frame-stats``, as a table and CSV.

    python scripts/flicker.py --checkpoints runs/*/last.ckpt --clips embedded --csv flicker.csv
    python scripts/flicker.py --checkpoints ae_in.ckpt ae_bn.ckpt --frame-stats per-frame window:5 clip \
        --truth colour_grade           # autoencoders trained with data.known_answer=colour_grade

Each checkpoint stylizes each clip of :mod:`stylenorm.data.clips` (pan, zoom, brightness, entering) under
each ``--frame-stats`` option (:mod:`stylenorm.inference.tile_statistics`); the known motion gives
the warping error and global flicker (:mod:`stylenorm.inference.flicker`, grey levels). Per-frame
quality: with ``--truth colour_grade`` the PSNR against the known answer applied to each frame; always,
``departure``, the mean absolute difference from the same checkpoint's per-frame output. Rows ``input``
(the clip itself) and, with ``--truth``, ``truth`` (the answer per frame) are the floors to compare with.
One CSV row per checkpoint x clip x option; then a summary per norm (mean over checkpoints, e.g. seeds,
with a 95% t interval).

    python scripts/flicker.py --runs logs/multirun/flicker_autoencoder --report docs/ablations/flicker_autoencoder \
        --frame-stats per-frame clip --truth colour_grade

``--clips my_clip.mp4`` measures a video file instead: its motion is estimated with OpenCV's Farnebäck
flow (the extra ``stylenorm[flow]``), so its numbers are estimates whose flow errors count as flicker.

``--runs`` measures the last checkpoint of every run of a sweep and writes a report folder (as
scripts/ablation_report.py does) that tests the flicker claims the preset declares; AdaIN runs need
``--style-image`` (and take ``--alpha``), CycleGAN runs ``--direction``, as single checkpoints do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from scipy import stats

from stylenorm.data.clips import CLIP_NAMES, Clip, motion_clips
from stylenorm.inference import load_stylizer, read_checkpoint
from stylenorm.inference.flicker import video_clip
from stylenorm.networks.public_checkpoints import identify
from stylenorm.report.claims import ClaimError
from stylenorm.report.flicker_runs import measure, measure_model, truth_frames, with_flicker
from stylenorm.report.frame import ReportError, read_runs

METRICS = ("warp_error", "global_flicker", "departure", "psnr_truth")


def describe_checkpoint(path: Path) -> dict:
    """Model and norm kind, as the checkpoint registry reads them, for grouping rows."""
    try:
        kind = identify(read_checkpoint(path))
    except (ValueError, OSError, RuntimeError):  # described as "?": the rows still count
        return {"model": "?", "norm": "?"}
    return {"model": kind.model, "norm": kind.norm_kind}


def interval(values: pd.Series) -> str:
    values = values.dropna()
    if len(values) < 2:
        return f"{values.mean():.2f}" if len(values) else "-"
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / len(values) ** 0.5
    return f"{values.mean():.2f} +- {half:.2f}"


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per norm x clip x option: mean and 95% t interval over checkpoints (seeds), n."""
    grouped = table.groupby(["norm", "clip", "frame_stats"], sort=False)
    result = grouped[["warp_error", "global_flicker", "psnr_truth"]].agg(interval)
    result["n"] = grouped.size()
    return result.reset_index()


def build_clips(args: argparse.Namespace) -> list[Clip]:
    """The embedded clips named (known motion), then the video files given (estimated motion), in order."""
    names = [name for name in args.clips if name == "embedded" or not Path(name).suffix]
    embedded = CLIP_NAMES if "embedded" in names else tuple(names)
    clips = motion_clips(embedded, size=args.size, count=args.frames) if embedded else []
    videos = [name for name in args.clips if name not in names]
    return clips + [video_clip(path, max_side=args.video_side, max_frames=args.frames) for path in videos]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoints", nargs="+", help="checkpoint files (one row group each)")
    source.add_argument(
        "--runs", type=Path, metavar="LOGDIR",
        help="a sweep's log folder: measure each run's last.ckpt and test the preset's claims (needs --report)",
    )  # fmt: skip
    parser.add_argument("--report", type=Path, metavar="OUT", help="with --runs: write the report folder here")
    parser.add_argument("--family-alpha", type=float, default=0.05, help="with --runs: Holm's family-wise level")
    parser.add_argument(
        "--clips",
        nargs="+",
        default=["embedded"],
        help=f"'embedded' (all) or some of {CLIP_NAMES}; or video files, whose motion is estimated (stylenorm[flow])",
    )
    parser.add_argument("--video-side", type=int, default=256, help="video files: longer side scaled down to this")
    parser.add_argument("--frame-stats", nargs="+", default=["per-frame", "window:5", "clip"])
    parser.add_argument("--size", type=int, default=96, help="clip frames are size x size px (default 96)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--margin", type=int, default=0, help="leave out pixels this close to the frame edge")
    parser.add_argument("--truth", choices=["colour_grade"], help="the known answer the checkpoints were trained on")
    parser.add_argument("--precision", default="fp32", help="fp32 (default), bf16, fp16, auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--direction", default=None, help="CycleGAN direction (AtoB, BtoA)")
    parser.add_argument("--style-image", nargs="+", default=None, help="AdaIN style image(s)")
    parser.add_argument("--alpha", type=float, default=None, help="AdaIN content-style trade-off")
    parser.add_argument("--csv", type=Path, help="write every row here")
    parser.add_argument("--summary-csv", type=Path, help="write the per-norm summary here")
    return parser


def report_runs(args, clips) -> int:
    """--runs: every run of the sweep on the clips, as report metrics, tested against the preset's claims."""
    from stylenorm.report.cli import write_report

    options = {"precision": args.precision, "batch_size": args.batch_size}

    def measure_run(checkpoint: Path) -> list[dict]:
        model = load_stylizer(
            checkpoint, device=args.device, direction=args.direction, style_images=args.style_image, alpha=args.alpha
        )
        return measure_model(model, clips, args.frame_stats, margin=args.margin, truth=args.truth, **options)

    table = with_flicker(read_runs(args.runs), measure_run, args.frame_stats)
    extra = {"--truth": args.truth, "--direction": args.direction, "--alpha": args.alpha}
    flags = [word for flag, value in extra.items() if value is not None for word in (flag, str(value))]
    if args.style_image:
        flags += ["--style-image", *args.style_image]
    words = ["python scripts/flicker.py --runs", str(args.runs), "--report", str(args.report), "--frame-stats"]
    command = " ".join([*words, *args.frame_stats, *flags])
    table.ablation = {**table.ablation, "report_command": command}  # docs/ablations.md's reproduce lines
    for path in write_report(table, args.report, args.family_alpha, [command]):
        print(f"  {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.runs is not None and args.report is None:
        parser.error("--runs needs --report OUT (the report folder to write)")
    try:
        clips = build_clips(args)
        if args.runs is not None:
            return report_runs(args, clips)
        models = [
            (
                Path(path),
                load_stylizer(
                    path, device=args.device, direction=args.direction, style_images=args.style_image, alpha=args.alpha
                ),
            )
            for path in args.checkpoints
        ]
    except (ReportError, ClaimError, ValueError, OSError, ImportError) as error:
        print(f"flicker: error: {error}", file=sys.stderr)
        return 2
    rows = []
    for clip in clips:
        truth = truth_frames(clip, args.truth)
        base = {"checkpoint": "input", "model": "-", "norm": "input", "clip": clip.name, "frame_stats": "-"}
        rows.append({**base, **measure(clip.frames, clip, args.margin, truth, None), "seconds": 0.0})
        if truth is not None:
            rows.append(
                {**base, "checkpoint": "truth", "norm": "truth", **measure(truth, clip, args.margin, truth, None)}
            )
    for path, model in models:
        described = {"checkpoint": str(path), **describe_checkpoint(path)}
        measured = measure_model(
            model, clips, args.frame_stats, margin=args.margin, truth=args.truth,
            precision=args.precision, batch_size=args.batch_size,
        )  # fmt: skip
        rows += [{**described, **row} for row in measured]
    table = pd.DataFrame(rows)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
    result = summary(table)
    if args.summary_csv:
        args.summary_csv.parent.mkdir(parents=True, exist_ok=True)
        result.to_csv(args.summary_csv, index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        print(result.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
