"""The page's "Video" tab: a short uploaded clip through two checkpoints, side by side, with flicker numbers.

Bounded so the page stays live: the first :data:`MAX_FRAMES` frames, downscaled to at most
:data:`MAX_SIDE` px (even sides, so browsers play the H.264 result), both stated on the page. Each
variant runs through :func:`stylenorm.inference.video.stylize_clip` (``--frame-stats`` included). An
upload has no known motion, so the numbers are motion-free (:mod:`stylenorm.inference.flicker` with
zero motion): the mean absolute change between consecutive frames and the change of the frame's mean
colour, in grey levels, next to the input's own - where the content moves they include that motion;
the known-motion numbers come from ``scripts/flicker.py`` (docs/video.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image

from stylenorm.data.clips import Clip, translation_motion
from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.models import NO_CONTROLS, Controls, ModelCache
from stylenorm.inference.flicker import flicker
from stylenorm.inference.pipeline import prepare
from stylenorm.inference.video import stylize_clip
from stylenorm.inference.video_io import probe_video, read_video, save_video


def problem_text(text: str) -> str:
    return f"**Problem:** {text}"


MAX_FRAMES = 48
MAX_SIDE = 256
COLUMNS = ["variant", "frame change (gray levels)", "mean colour change (gray levels)", "time (s)"]


def read_clip(path: str | os.PathLike, max_frames: int = MAX_FRAMES, max_side: int = MAX_SIDE) -> tuple[Clip, float]:
    """The first ``max_frames`` frames of ``path`` at most ``max_side`` px, even sides; and the frame rate."""
    try:
        rate = float(probe_video(path).rate)
        frames = []
        for frame in read_video(path):
            pixels = prepare(Image.fromarray(frame.pixels), max_size=max_side).pixels
            height, width = pixels.shape[-2:]
            frames.append(pixels[:, : height - height % 2, : width - width % 2])
            if len(frames) == max_frames:
                break
    except (ValueError, OSError) as error:
        raise DemoError(f"Not a video this page can read: {error}") from None
    if len(frames) < 2:
        raise DemoError("The clip needs at least two frames.")
    stack = torch.stack(frames)
    motion = translation_motion([(0, 0)] * (len(frames) - 1), *stack.shape[-2:])
    return Clip(Path(path).name, stack, *motion, fps=round(rate)), rate


def row(name: str, outputs: torch.Tensor, clip: Clip, seconds: float) -> list:
    score = flicker(outputs, clip)
    return [name, round(score.warp_error, 2), round(score.global_flicker, 2), round(seconds, 2)]


def compare_clip(
    path: str | os.PathLike,
    variants: list[tuple[CheckpointEntry, str]],
    models: ModelCache,
    controls: Controls = NO_CONTROLS,
    *,
    output_dir: str | os.PathLike,
    precision: str = "auto",
) -> tuple[list[Path], list[list]]:
    """Each ``(checkpoint, frame_stats)`` variant on the clip at ``path``: the videos written and the table
    (the input's row first)."""
    import time

    if not variants:
        raise DemoError("No checkpoint selected: tick one or two in the list of checkpoints.")
    clip, rate = read_clip(path)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    videos, rows = [], [row(f"input ({len(clip.frames)} frames)", clip.frames, clip, 0.0)]
    for index, (entry, frame_stats) in enumerate(variants, start=1):
        model = models.get(entry, controls)
        started = time.perf_counter()
        outputs = torch.stack(
            list(stylize_clip(lambda: iter(clip.frames), model, frame_stats=frame_stats, precision=precision))
        )
        seconds = time.perf_counter() - started
        videos.append(save_video(outputs, folder / f"{index}_{entry.path.stem}.mp4", round(rate) or 12))
        rows.append(row(f"{entry.name} · {entry.norm_label} · {frame_stats}", outputs, clip, seconds))
    return videos, rows


def add_video_tab(session, checkpoints, controls_inputs, status, work: dict) -> None:
    """The tab, inside the page's ``gr.Tabs``: ``checkpoints`` is the page's list (the first two ticked
    are compared), ``controls_inputs`` its model controls (direction, style, ..., preserve colour)."""
    import gradio as gr

    from stylenorm.demo.models import controls_from

    with gr.Tab("Video", id="video"):
        gr.Markdown(
            f"Upload a short clip: the first {MAX_FRAMES} frames, scaled to at most {MAX_SIDE} px, go through the "
            "first two ticked checkpoints. Numbers: mean change between consecutive frames and of the frame's mean "
            "colour (gray levels), beside the input's own; without known motion they include the clip's motion "
            "(the known-motion measurement is scripts/flicker.py)."
        )
        clip = gr.Video(label="Your clip (mp4, mov, webm, mkv)", sources=["upload"], elem_id="clip")
        with gr.Row():
            left_stats = gr.Radio(["per-frame", "window:5", "clip"], value="per-frame", label="Left: statistics")
            right_stats = gr.Radio(["per-frame", "window:5", "clip"], value="per-frame", label="Right: statistics")
        button = gr.Button("Stylize the clip", elem_id="stylize-clip")
        with gr.Row():
            left, right = gr.Video(label="Left", interactive=False), gr.Video(label="Right", interactive=False)
        table = gr.Dataframe(headers=COLUMNS, label="Flicker", interactive=False)

    def run(path, chosen, left_option, right_option, *controls):
        try:
            if not path:
                raise DemoError("No clip: upload a short video.")
            entries = [session.entry(item) for item in (chosen or [])[:2]]
            variants = list(zip(entries, [left_option, right_option], strict=False))
            with session._lock:
                videos, rows = compare_clip(
                    path, variants, session.models, controls_from(*controls),
                    output_dir=session._next_output_folder(), precision=session.options.precision,
                )  # fmt: skip
        except DemoError as error:
            return None, None, [], problem_text(str(error))
        except Exception as error:  # the page must survive anything
            return None, None, [], problem_text(f"{type(error).__name__}: {error}")
        paths = [str(video) for video in videos] + [None] * (2 - len(videos))
        return paths[0], paths[1], rows, f"{len(videos)} variant(s) stylized."

    inputs = [clip, checkpoints, left_stats, right_stats, *controls_inputs]
    button.click(run, inputs, [left, right, table, status], api_name="stylize_clip", **work)
