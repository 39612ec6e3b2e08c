"""Video files in and out through PyAV: uint8 RGB frames with their presentation times (outputs keep the input's
frame count and timing), written as H.264 (VP9 for ``.webm``, MPEG-4 for ``.avi``) with the input's first audio
track into a temporary file renamed on success. Usage: docs/video.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from stylenorm.atomic_files import atomic_path

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".m4v", ".webm", ".avi")
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
_VIDEO_CODECS = {".webm": ("libvpx-vp9", {"crf": "30", "b": "0"}), ".avi": ("mpeg4", {})}  # others: H.264
#: Audio codecs each container holds as they are; other audio is re-encoded to the second entry.
_AUDIO = {
    ".mp4": ({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}, "aac"),
    ".m4v": ({"aac", "mp3", "alac", "ac3", "eac3"}, "aac"),
    ".mov": ({"aac", "mp3", "alac", "ac3", "pcm_s16le", "pcm_s24le"}, "aac"),
    ".mkv": (None, "aac"),  # Matroska holds anything
    ".webm": ({"opus", "vorbis"}, "libopus"),
    ".avi": ({"mp3", "ac3", "pcm_s16le"}, "aac"),
}
#: x264's constant rate factor: 18 is "visually lossless" in its documentation (default 23 blurs strokes).
H264_CRF = "18"


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the header says (``frames``: 0 where the container does not record it)."""

    width: int
    height: int
    rate: Fraction
    frames: int
    has_audio: bool


def _open(path: str | os.PathLike):
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Video not found: {path}.")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise ValueError(f"Cannot read {path} as a video ({error}); expected a file FFmpeg can decode.") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} holds no video stream (audio only?); expected a video file.")
    return container


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate, frame count (from the header) and whether there is audio."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        context = stream.codec_context
        return VideoInfo(context.width, context.height, Fraction(rate), stream.frames, bool(container.streams.audio))


@dataclasses.dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: uint8 RGB ``(H, W, 3)`` and its presentation time in ``time_base`` units."""

    pixels: np.ndarray
    pts: int | None
    time_base: Fraction | None


def read_video(path: str | os.PathLike) -> Iterator[VideoFrame]:
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                yield VideoFrame(frame.to_ndarray(format="rgb24"), frame.pts, frame.time_base)
        except av.FFmpegError as error:
            raise ValueError(f"Cannot decode {path}: {error}. The file may be truncated or damaged.") from None


@contextlib.contextmanager
def video_writer(
    path: str | os.PathLike, rate: Fraction, audio_from: str | os.PathLike | None = None
) -> Iterator[Callable[..., None]]:
    """``write(pixels, pts=None, time_base=None)`` for uint8 RGB ``(H, W, 3)`` frames into ``path`` (``pts`` in
    ``time_base`` units keeps the input's timing), with ``audio_from``'s audio; the file appears only on success."""
    import av

    path, suffix, rate = Path(path), Path(path).suffix.lower(), Fraction(rate)
    if suffix not in _FORMATS:
        raise ValueError(f"Cannot write {path}: unknown video extension; use one of {', '.join(VIDEO_EXTENSIONS)}.")
    codec, codec_options = _VIDEO_CODECS.get(suffix, ("libx264", {"crf": H264_CRF}))
    count, stream = itertools.count(), None  # the video stream starts with the first frame: its size
    with atomic_path(path) as temporary:
        container = av.open(str(temporary), mode="w", format=_FORMATS[suffix])

        def write(pixels: np.ndarray, pts: int | None = None, time_base: Fraction | None = None) -> None:
            nonlocal stream
            index = next(count)
            if suffix == ".avi" or pts is None or time_base is None:  # AVI: one frame per tick, constant rate only
                pts = time_base = None
            if stream is None:
                stream = container.add_stream(codec, rate=rate)
                stream.height, stream.width = pixels.shape[:2]
                odd = stream.width % 2 or stream.height % 2
                stream.pix_fmt = "yuv444p" if odd and codec == "libx264" else "yuv420p"
                stream.options = codec_options
                if codec == "mpeg4":
                    stream.bit_rate = 8_000_000
                stream.time_base = time_base or 1 / rate
                if audio_from is not None:
                    _copy_audio(audio_from, container, suffix)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts, frame.time_base = (index, stream.time_base) if pts is None else (pts, time_base)
            container.mux(stream.encode(frame))

        try:
            yield write
            if stream is None:
                raise ValueError(f"No frames to write to {path}.")
            container.mux(stream.encode(None))
        except BaseException:
            with contextlib.suppress(Exception):  # closing a broken file must not hide the original error
                container.close()
            raise
        container.close()


def _copy_audio(source: str | os.PathLike, container, suffix: str) -> None:
    """The first audio track of ``source`` into ``container``, copied (or re-encoded where the container needs it)."""
    import av

    allowed, fallback = _AUDIO[suffix]
    with av.open(str(source)) as input_container:
        if not input_container.streams.audio:
            return
        audio = input_container.streams.audio[0]
        if allowed is None or audio.codec_context.name in allowed:
            out = container.add_stream_from_template(audio)
            for packet in input_container.demux(audio):
                if packet.dts is None:
                    continue  # the demuxer's flush packet
                packet.stream = out
                container.mux(packet)
            return
        rate = 48000 if fallback == "libopus" else audio.codec_context.sample_rate  # Opus: 48 kHz only
        out = container.add_stream(fallback, rate=rate)
        out.layout = audio.codec_context.layout.name if audio.codec_context.channels <= 2 else "stereo"
        for frame in input_container.decode(audio):
            frame.pts = None  # let the encoder count samples
            container.mux(out.encode(frame))
        container.mux(out.encode(None))


def save_video(frames, path: str | os.PathLike, rate: Fraction | int) -> Path:
    """uint8 frames ``(T, 3, H, W)`` (a tensor or array) as a video file at ``rate`` frames per second."""
    with video_writer(path, Fraction(rate)) as write:
        for frame in frames:
            write(np.asarray(frame).transpose(1, 2, 0))
    return Path(path)
