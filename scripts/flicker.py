"""Flicker per normalization: checkpoints x known-motion clips x ``--frame-stats``, as a table and CSV.

    python scripts/flicker.py --checkpoints runs/*/last.ckpt --clips embedded --csv flicker.csv
    python scripts/flicker.py --checkpoints ae_in.ckpt ae_bn.ckpt --frame-stats per-frame window:5 clip \
        --truth colour_grade           # autoencoders trained with data.known_answer=colour_grade

Each checkpoint stylizes each clip of :mod:`stylenorm.data.clips` (pan, zoom, brightness, entering) under
each ``--frame-stats`` option (:mod:`stylenorm.inference.frame_statistics`); the known motion gives
the warping error and global flicker (:mod:`stylenorm.inference.flicker`, grey levels). Per-frame
quality: with ``--truth colour_grade`` the PSNR against the known answer applied to each frame; always,
``departure``, the mean absolute difference from the same checkpoint's per-frame output. Rows ``input``
(the clip itself) and, with ``--truth``, ``truth`` (the answer per frame) are the floors to compare with.
One CSV row per checkpoint x clip x option; then a summary per norm (mean over checkpoints, e.g. seeds,
with a 95% t interval).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from scipy import stats

from stylenorm.data.clips import CLIP_NAMES, Clip, motion_clips
from stylenorm.data.known_answer import colour_grade
from stylenorm.inference import load_stylizer, read_checkpoint
from stylenorm.inference.flicker import flicker, stylize_known_clip

METRICS = ("warp_error", "global_flicker", "departure", "psnr_truth")


def describe_checkpoint(path: Path) -> dict:
    """Model, norm kind and seed (where the checkpoint records them) for grouping rows."""
    try:
        hyper = read_checkpoint(path).get("hyper_parameters", {}) or {}
    except (ValueError, OSError, RuntimeError):  # described as "?": the rows still count
        hyper = {}
    norm = hyper.get("norm") or {}
    return {"model": hyper.get("name", "?"), "norm": norm.get("kind", "?") if isinstance(norm, dict) else str(norm)}


def psnr(outputs: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean over frames of each frame's PSNR (dB, 0-255 peak)."""
    error = (outputs.double() - truth.double()).pow(2).mean(dim=(1, 2, 3))  # 0 -> inf dB
    return float((10 * torch.log10(255.0**2 / error)).mean())


def truth_frames(clip: Clip, truth: str | None) -> torch.Tensor | None:
    if truth is None:
        return None
    return (colour_grade(clip.frames.double() / 255) * 255).round().to(torch.uint8)


def measure(outputs: torch.Tensor, clip: Clip, margin: int, truth, per_frame: torch.Tensor | None) -> dict:
    score = flicker(outputs, clip, margin=margin)
    row = {"warp_error": score.warp_error, "global_flicker": score.global_flicker}
    row["departure"] = float((outputs.double() - per_frame.double()).abs().mean()) if per_frame is not None else 0.0
    row["psnr_truth"] = psnr(outputs, truth) if truth is not None else float("nan")
    return row


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoints", nargs="+", required=True, help="checkpoint files (one row group each)")
    parser.add_argument("--clips", nargs="+", default=["embedded"], help=f"'embedded' (all) or some of {CLIP_NAMES}")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = CLIP_NAMES if args.clips == ["embedded"] else tuple(args.clips)
    try:
        clips = motion_clips(names, size=args.size, count=args.frames)
        models = [
            (
                Path(path),
                load_stylizer(
                    path, device=args.device, direction=args.direction, style_images=args.style_image, alpha=args.alpha
                ),
            )
            for path in args.checkpoints
        ]
    except (ValueError, OSError) as error:
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
        described = describe_checkpoint(path)
        for clip in clips:
            truth, per_frame = truth_frames(clip, args.truth), None
            for option in args.frame_stats:
                started = time.perf_counter()
                outputs = stylize_known_clip(
                    model, clip, frame_stats=option, precision=args.precision, batch_size=args.batch_size
                )
                seconds = time.perf_counter() - started
                if option == "per-frame":
                    per_frame = outputs
                row = {"checkpoint": str(path), **described, "clip": clip.name, "frame_stats": option}
                rows.append({**row, **measure(outputs, clip, args.margin, truth, per_frame), "seconds": seconds})
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
