"""Flicker as report metrics (docs/video.md): :func:`measure` scores a stylized known-motion clip (warping error,
global flicker, PSNR against a known answer, departure from per-frame statistics); :func:`with_flicker` makes a
run per ``--frame-stats`` option with metrics ``flicker/<clip>/<name>``, tested like any other claim.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from stylenorm.data.clips import Clip
from stylenorm.data.known_answer import colour_grade
from stylenorm.inference.flicker import flicker, stylize_known_clip
from stylenorm.report.frame import ReportError, RunTable

CHECKPOINT = "last.ckpt"


def truth_frames(clip: Clip, truth: str | None) -> torch.Tensor | None:
    """The known answer applied to every frame (uint8), or None without one."""
    return None if truth is None else (colour_grade(clip.frames.double() / 255) * 255).round().to(torch.uint8)


def measure(outputs: torch.Tensor, clip: Clip, margin: int, truth, per_frame: torch.Tensor | None) -> dict:
    score = flicker(outputs, clip, margin=margin)
    departure = float((outputs.double() - per_frame.double()).abs().mean()) if per_frame is not None else 0.0
    psnr = float("nan")
    if truth is not None:  # the mean over frames of each frame's PSNR (dB, 0-255 peak)
        error = (outputs.double() - truth.double()).pow(2).mean(dim=(1, 2, 3))  # 0 -> inf dB
        psnr = float((10 * torch.log10(255.0**2 / error)).mean())
    names = ("warp_error", "global_flicker", "departure", "psnr_truth")
    return dict(zip(names, (score.warp_error, score.global_flicker, departure, psnr), strict=True))


def measure_model(model, clips: list[Clip], frame_stats: list[str], *, margin=0, truth=None, **options) -> list[dict]:
    """One row per clip x option: clip, frame_stats and :func:`measure`'s numbers (plus seconds)."""
    rows = []
    for clip in clips:
        answer, per_frame = truth_frames(clip, truth), None
        for option in frame_stats:
            started = time.perf_counter()
            outputs = stylize_known_clip(model, clip, frame_stats=option, **options)
            seconds = time.perf_counter() - started
            per_frame = outputs if option == "per-frame" else per_frame
            row = {"clip": clip.name, "frame_stats": option, **measure(outputs, clip, margin, answer, per_frame)}
            rows.append({**row, "seconds": seconds})
    return rows


def run_checkpoint(run: pd.Series) -> Path:
    """A run's last checkpoint, from the checkpoint folder its config recorded."""
    folder = run.get("paths.run_checkpoint_dir")
    if not isinstance(folder, str) or not folder:
        raise ReportError(f"run {run['run']}: its config records no paths.run_checkpoint_dir (where its checkpoint is)")
    if not (path := Path(folder) / CHECKPOINT).is_file():
        raise ReportError(f"run {run['run']}: no {path} (train it to the end, or delete the run folder)")
    return path


def with_flicker(table: RunTable, measure_run, frame_stats: list[str]) -> RunTable:
    """``table`` with a row per run x option and the flicker metrics ``measure_run(checkpoint)`` gives."""
    runs, steps = [], []
    for _, run in table.runs.iterrows():
        measured = measure_run(run_checkpoint(run)) if run["status"] == "finished" else []
        history = table.steps[table.steps["run"] == run["run"]]
        last = int(run["global_step"]) if pd.notna(run["global_step"]) else 0
        for option in frame_stats:
            name = f"{run['run']}@{option}"
            runs.append({**run.to_dict(), "run": name, "flicker.frame_stats": option})
            steps.append(history.assign(run=name))
            for row in (r for r in measured if r["frame_stats"] == option):
                # NaN here means "not measured" (psnr_truth without a known answer), not a failed run
                metrics = {k: v for k, v in row.items() if k not in ("clip", "frame_stats", "seconds") and v == v}
                values = [
                    {"run": name, "step": last, "metric": f"flicker/{row['clip']}/{k}", "value": v}
                    for k, v in metrics.items()
                ]
                steps.append(pd.DataFrame(values))
    return RunTable(pd.DataFrame(runs), pd.concat(steps, ignore_index=True), dict(table.ablation))
