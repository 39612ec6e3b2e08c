"""Which files the stylize command reads and where each result goes, all decided before the first image is read (so
overwriting an input, or two inputs writing one file, is refused up front), and the batches it runs them in.
Rules: docs/stylize.md, docs/video.md.
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from stylenorm.data.images import IMAGE_EXTENSIONS, list_images
from stylenorm.inference.image_io import OUTPUT_FORMATS
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.video_io import VIDEO_EXTENSIONS, is_video

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def normalize_extension(ext: str | None, allowed: Sequence[str] = ()) -> str | None:
    """``"jpg"`` / ``".JPG"`` -> ``".jpg"``; refuses formats that cannot be written (images, or ``allowed``)."""
    if ext is None:
        return None
    ext = "." + ext.lower().lstrip(".")
    if ext not in OUTPUT_FORMATS and ext not in allowed:
        raise ValueError(f"Unknown output extension {ext!r}; expected one of {', '.join(OUTPUT_FORMATS)}.")
    return ext


def _is_glob(text: str) -> bool:
    return any(character in "*?[" for character in text)


def collect_inputs(inputs: Sequence[str]) -> tuple[list[Path], Path, bool]:
    """``(files, base folder their output paths are relative to, whether it is one named file)``."""
    if not inputs:
        raise ValueError("No input given: pass --input with an image file, a folder or a glob pattern.")
    if len(inputs) > 1:
        folders = [item for item in inputs if Path(item).is_dir()]
        if folders:
            raise ValueError(f"--input {folders[0]} is a folder among several inputs: run once per folder.")
        _check_exist(inputs, "")
        files = [Path(item) for item in inputs]
        return files, Path(os.path.commonpath([str(path.parent.absolute()) for path in files])), False
    item = inputs[0]
    path = Path(item)
    if path.is_file():
        return [path], path.parent, True
    if path.is_dir():
        hint = "Pass --input an image file, a folder of images or a quoted glob pattern such as 'photos/*.jpg'."
        return list_images(path, recursive=True, hint=hint), path, False
    if not _is_glob(item):
        raise FileNotFoundError(f"Input not found: {item} (no such file or folder, and not a glob pattern).")
    matches = sorted(
        Path(match)
        for match in glob.glob(item, recursive=True)
        if Path(match).is_file() and Path(match).suffix.lower() in IMAGE_EXTENSIONS
    )
    if not matches:
        raise FileNotFoundError(f"No image files match {item!r}; use ** for subfolders, e.g. 'photos/**/*.jpg'.")
    fixed = itertools.takewhile(lambda part: not _is_glob(part), path.parts[:-1])  # photos/2024/*.jpg: photos/2024
    return matches, Path(".", *fixed), False


def _check_exist(inputs: Sequence[str], expected: str) -> None:
    missing = [item for item in inputs if not Path(item).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"Input not found: {missing[0]}{more}.{expected}")


def plan_jobs(inputs: Sequence[str], output: str | os.PathLike, ext: str | None = None) -> list[Job]:
    """The ``(source, target)`` pairs of one command; raises before any work for impossible plans."""
    jobs = _video_jobs(inputs, Path(output), ext) if any(map(is_video, inputs)) else _image_jobs(inputs, output, ext)
    sources = {job.source.resolve(): job.source for job in jobs}
    writers: dict[Path, Path] = {}
    for job in jobs:
        resolved = job.target.resolve()
        clash = sources.get(resolved)
        if clash is not None or _same_file(job.target, job.source):
            whose = "its own result" if clash in (None, job.source) else f"the result of {job.source}"
            raise ValueError(f"Refusing to overwrite the input {clash or job.source} with {whose}: change --output.")
        if resolved in writers:
            raise ValueError(f"{writers[resolved]} and {job.source} would both write {job.target}: drop --ext.")
        writers[resolved] = job.source
    _check_writable(jobs)
    return jobs


def _image_jobs(inputs: Sequence[str], output: str | os.PathLike, ext: str | None) -> list[Job]:
    ext = normalize_extension(ext)
    files, base, single_file = collect_inputs(inputs)
    output = Path(output)
    if single_file and output.suffix.lower() in OUTPUT_FORMATS and not output.is_dir():
        if ext is not None and OUTPUT_FORMATS[ext] != OUTPUT_FORMATS[output.suffix.lower()]:
            raise ValueError(f"--ext {ext} contradicts the output file name {output}; drop one of them.")
        return [Job(files[0], output)]
    if output.is_file():
        raise ValueError(f"--output {output} is a file, but {len(files)} inputs need a folder: give a folder name.")
    if output.suffix.lower() in OUTPUT_FORMATS and not output.exists():
        raise ValueError(f"--output {output} looks like a file name, but {len(files)} inputs need a folder.")
    if output.resolve() != base.resolve():
        # A second run into a folder inside the input folder must not pick up the first run's results.
        files = [path for path in files if not path.resolve().is_relative_to(output.resolve())]
    if not files:
        raise FileNotFoundError(f"Every input image is inside the output folder {output}; nothing to do.")
    jobs = []
    for path in files:
        relative = Path(path.name) if single_file else Path(os.path.relpath(path.absolute(), base.absolute()))
        target = output / relative
        jobs.append(Job(path, target.with_suffix(ext) if ext is not None else target))
        if jobs[-1].target.suffix.lower() not in OUTPUT_FORMATS:
            raise ValueError(f"Cannot tell the output format of {target}: pass --ext, e.g. --ext png.")
    return jobs


def _video_jobs(inputs: Sequence[str], output: Path, ext: str | None) -> list[Job]:
    """One video: ``output`` is a video file, an image file (an animation, or numbered stills) or a folder of
    frames (``--ext``: their format). Several: ``output`` is a folder, each result named as its input."""
    if not all(is_video(item) for item in inputs):
        raise ValueError("--input mixes videos and images; run videos and images separately.")
    _check_exist(inputs, f" Expected a video file ({', '.join(VIDEO_EXTENSIONS)}).")
    ext = normalize_extension(ext, VIDEO_EXTENSIONS)
    if len(inputs) == 1:
        return [Job(Path(inputs[0]), output)]
    if output.suffix.lower() in VIDEO_EXTENSIONS or output.is_file():
        raise ValueError(f"--output {output} must be a folder for {len(inputs)} input videos.")
    return [Job(Path(item), output / (Path(item).stem + (ext or Path(item).suffix))) for item in inputs]


def _check_writable(jobs: list[Job]) -> None:
    """Every output folder can be created and written to: a probe file in the nearest existing folder of each."""
    checked: set[Path] = set()
    for job in jobs:
        folder = (job.target.parent if job.target.suffix else job.target).absolute()  # no suffix: frames' folder
        if folder in checked:
            continue
        checked.add(folder)
        existing = folder
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"{existing} is a file, so no folder can be made under it: change --output.")
        try:
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as error:
            raise ValueError(f"Cannot write under {folder}: {error.strerror or error}; change --output.") from None


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve() or (
            first.exists() and second.exists() and os.path.samefile(first, second)
        )
    except OSError:
        return False


def batches(
    items: Iterable[T], size: Callable[[T], tuple[int, int] | None], options: InferenceOptions
) -> Iterator[list[T]]:
    """The command's batching rule, which its runner and the ``--compile auto`` plan both follow: consecutive images
    of one ``size`` (height, width) together, up to ``batch_size``; a tiled image or a clip (size ``None``) alone."""
    pending: list[T] = []
    for item in items:
        shape = size(item)
        alone = shape is None or options.tile_for(*shape) is not None  # tiles: their point is bounded memory
        if pending and (alone or shape != size(pending[0])):
            yield pending
            pending = []
        pending.append(item)
        if alone or len(pending) == options.batch_size:
            yield pending
            pending = []
    if pending:
        yield pending


def frame_batches(frames: Iterable[T], size: int) -> Iterator[list[T]]:
    """A clip's frames, ``size`` consecutive ones at a time, as :func:`~stylenorm.inference.video.stylize_clip` runs
    them."""
    frames = iter(frames)
    while batch := list(itertools.islice(frames, size)):
        yield batch
