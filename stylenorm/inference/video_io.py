"""Video files in and out through PyAV: uint8 RGB frames with their presentation times (outputs keep the input's
frame count and timing), written as H.264 (VP9 for ``.webm``, MPEG-4 for ``.avi``) with the input's first audio
track into a temporary file renamed on success. Usage: docs/video.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

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


def partial_path(path: Path) -> Path:
    """The temporary name (same folder and extension) a file is written under before the rename."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


class VideoWriter:
    """uint8 RGB frames into ``path``, audio from ``audio_from``; as a context manager, written only on success."""

    def __init__(self, path: str | os.PathLike, rate: Fraction, audio_from: str | os.PathLike | None = None):
        import av

        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in _FORMATS:
            raise ValueError(f"Cannot write {path}: unknown video extension; use one of {', '.join(VIDEO_EXTENSIONS)}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = partial_path(self.path)
        self.rate = Fraction(rate)
        self.container = av.open(str(self.temporary), mode="w", format=_FORMATS[suffix])
        self.codec, self.codec_options = _VIDEO_CODECS.get(suffix, ("libx264", {"crf": H264_CRF}))
        self.stream = None
        self.audio_from = audio_from
        self.count = 0
        self.keep_timing = suffix != ".avi"  # AVI stores one frame per tick of its time base: constant rate only

    def _start(self, height: int, width: int, time_base: Fraction | None) -> None:
        stream = self.container.add_stream(self.codec, rate=self.rate)
        stream.width, stream.height = width, height
        odd = width % 2 or height % 2
        stream.pix_fmt = "yuv444p" if odd and self.codec == "libx264" else "yuv420p"
        stream.options = self.codec_options
        if self.codec == "mpeg4":
            stream.bit_rate = 8_000_000
        stream.time_base = time_base or 1 / self.rate
        self.stream = stream
        if self.audio_from is not None:
            self._copy_audio(self.audio_from)

    def _copy_audio(self, source: str | os.PathLike) -> None:
        """The first audio track of ``source``, copied (or re-encoded where the container needs it)."""
        import av

        suffix = self.path.suffix.lower()
        allowed, fallback = _AUDIO[suffix]
        with av.open(str(source)) as container:
            if not container.streams.audio:
                return
            audio = container.streams.audio[0]
            if allowed is None or audio.codec_context.name in allowed:
                out = self.container.add_stream_from_template(audio)
                for packet in container.demux(audio):
                    if packet.dts is None:
                        continue  # the demuxer's flush packet
                    packet.stream = out
                    self.container.mux(packet)
                return
            rate = 48000 if fallback == "libopus" else audio.codec_context.sample_rate  # Opus: 48 kHz only
            out = self.container.add_stream(fallback, rate=rate)
            out.layout = audio.codec_context.layout.name if audio.codec_context.channels <= 2 else "stereo"
            for frame in container.decode(audio):
                frame.pts = None  # let the encoder count samples
                self.container.mux(out.encode(frame))
            self.container.mux(out.encode(None))

    def write(self, pixels: np.ndarray, pts: int | None = None, time_base: Fraction | None = None) -> None:
        """One uint8 RGB ``(H, W, 3)`` frame; ``pts`` in ``time_base`` units keeps the input's timing."""
        import av

        if not self.keep_timing:
            pts = time_base = None
        if self.stream is None:
            self._start(pixels.shape[0], pixels.shape[1], time_base if pts is not None else None)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        if pts is not None and time_base is not None:
            frame.pts, frame.time_base = pts, time_base
        else:
            frame.pts, frame.time_base = self.count, self.stream.time_base
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def close(self) -> Path:
        if self.stream is None:
            self.abort()
            raise ValueError(f"No frames to write to {self.path}.")
        self.container.mux(self.stream.encode(None))
        self.container.close()
        os.replace(self.temporary, self.path)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken file must not hide the original error
            self.container.close()
        self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def save_video(frames, path: str | os.PathLike, rate: Fraction | int) -> Path:
    """uint8 frames ``(T, 3, H, W)`` (a tensor or array) as a video file at ``rate`` frames per second."""
    with VideoWriter(path, Fraction(rate)) as writer:
        for frame in frames:
            writer.write(np.asarray(frame).transpose(1, 2, 0))
    return Path(path)
