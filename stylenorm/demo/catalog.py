"""The checkpoints the page offers: found under the run folders, described by model and norm.

:func:`find_checkpoints` walks the given folders (``checkpoints/`` and ``logs/`` by default) for this
project's ``.ckpt`` files and the public ``.pth`` / ``.model`` files the stylize command understands,
reads each with the inference API's reader (:func:`stylenorm.inference.read_checkpoint`, safe
loading) and says what it is: model, norm kind, affine flag, how many styles, whether it has two
directions or takes style images, and - from the log folder of its run
(:mod:`stylenorm.demo.run_logs`) - the run's status and final metrics. A file that cannot be read is
listed too, with the reason, so the page can say why it will not load.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stylenorm.demo.run_logs import index_log_runs, read_run, run_key
from stylenorm.inference import read_checkpoint
from stylenorm.networks.checkpoint_kinds import identify
from stylenorm.report.metrics import TRAIN_COLUMNS

#: File names the page lists (what ``--checkpoint`` of the stylize command takes).
CHECKPOINT_SUFFIXES = (".ckpt", ".pth", ".model")

#: Folders searched when none are given, relative to where the page is started (train.py's defaults).
DEFAULT_RUN_FOLDERS = ("checkpoints", "logs")

#: Metrics shown next to a checkpoint, the first :data:`SHOWN_METRICS` its run logged, in this order
#: (validation quality first; the rest are in TensorBoard and the ablation report).
KEY_METRICS = ("val/psnr", "val/ssim", "val/contrast_invariance_l1", "val/loss", "val/total", *TRAIN_COLUMNS)
SHOWN_METRICS = 3


@dataclasses.dataclass
class CheckpointEntry:
    """One checkpoint file and what it is.

    Attributes:
        path: the file.
        format: ``lightning``, ``fast_neural_style``, ``cyclegan_generator`` or ``adain_decoder``
            (``unreadable`` when it could not be read, see :attr:`error`).
        model: ``style``, ``cyclegan``, ``autoencoder`` or ``adain``.
        norm_kind, affine: the norm settings it was trained with.
        num_styles: rows of a conditional instance norm's style table (1 for one-style networks).
        directions: ``("AtoB", "BtoA")`` for this project's CycleGAN checkpoints, else ``()``.
        encoder: the ``vgg_normalised.pth`` found beside a public AdaIN ``decoder.pth``.
        run: the run's name (``<model>/<variant>/version_N``), when its log folder was found.
        status: how the run ended (``finished``, ``diverged``, ...; ``incomplete`` without result.json).
        metrics: the run's final values of :data:`KEY_METRICS` it logged.
        error: why the file could not be read (then the other fields are unknown).
    """

    path: Path
    format: str = "unreadable"
    model: str = "?"
    norm_kind: str = "?"
    affine: bool | None = None
    num_styles: int = 1
    directions: tuple[str, ...] = ()
    encoder: Path | None = None
    run: str | None = None
    status: str | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    error: str | None = None

    @property
    def takes_style_images(self) -> bool:
        """AdaIN networks take their style from images given at loading."""
        return self.model == "adain"

    @property
    def norm_label(self) -> str:
        """``instance, affine=True`` (``, 3 styles`` for conditional instance norm)."""
        if self.error is not None:
            return "unreadable"
        if self.model == "adain":
            return f"AdaIN, decoder norm {self.norm_kind}"
        text = f"{self.norm_kind}, affine={self.affine}"
        return text + (f", {self.num_styles} styles" if self.num_styles > 1 else "")

    @property
    def name(self) -> str:
        """The run and file (``autoencoder/instance-affine_true/version_0/last.ckpt``), or the file name."""
        return f"{self.run}/{self.path.name}" if self.run else self.path.name

    def label(self) -> str:
        """One line for the checkpoint list: model, norm, metrics, name."""
        if self.error is not None:
            return f"(unreadable) {self.name} — {self.error}"
        parts = [self.model, self.norm_label]
        if self.format != "lightning":
            parts.append(self.format.replace("_", "-") + " file")
        parts += [f"{tag.removeprefix('val/')} {value:.4g}" for tag, value in self.metrics.items()]
        if self.status not in (None, "finished"):
            parts.append(f"run {self.status}")
        return " · ".join([*parts, self.name])

    def caption(self, settings: str = "") -> str:
        """Label for a result image: model, norm settings, the controls used (``settings``) and the run."""
        used = f", {settings}" if settings else ""
        return f"{self.model}: {self.norm_label}{used} ({self.name})"


def describe(path: Path, state: Mapping[str, Any]) -> CheckpointEntry:
    """What a loaded checkpoint mapping is (model, norm) - from the file alone, by the one registry."""
    kind = identify(state)
    if not kind.runnable:
        raise ValueError(f"a {kind.format.replace('_', ' ')} file, which the stylize command does not run")
    entry = CheckpointEntry(path, kind.format, kind.model, kind.norm_kind, kind.affine, kind.num_styles)
    entry.directions = kind.directions
    if kind.format == "adain_decoder":
        entry.encoder = _adain_encoder_beside(path)
    return entry


def _adain_encoder_beside(decoder: Path) -> Path | None:
    """The port keeps ``vgg_normalised.pth`` next to ``decoder.pth``; the page pairs them."""
    for candidate in (decoder.with_name("vgg_normalised.pth"), *sorted(decoder.parent.glob("*vgg*.pth"))):
        if candidate.is_file() and candidate != decoder:
            return candidate
    return None


def _checkpoint_files(folders: Iterable[Path]) -> list[Path]:
    found: dict[Path, None] = {}  # ordered and without repeats when folders nest
    for folder in folders:
        if folder.is_file() and folder.suffix in CHECKPOINT_SUFFIXES:
            found[folder.resolve()] = None
            continue
        if not folder.is_dir():
            continue
        files = (p for p in folder.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES and p.is_file())
        for path in sorted(files):
            found[path.resolve()] = None
    return list(found)


def _log_roots(folders: Iterable[Path]) -> list[Path]:
    """Where run logs may be: the folders themselves, and ``logs/`` beside a ``checkpoints/`` folder."""
    roots = []
    for folder in folders:
        roots.append(folder)
        if folder.name == "checkpoints":
            roots.append(folder.parent / "logs")
    return roots


def _is_encoder_only(state: Mapping[str, Any]) -> bool:
    try:
        return not identify(state).runnable
    except ValueError:
        return False


def find_checkpoints(folders: Iterable[str | os.PathLike] = DEFAULT_RUN_FOLDERS) -> list[CheckpointEntry]:
    """Every checkpoint under ``folders`` (files may be given too), described, sorted by model and norm.

    Files that only serve another one (an AdaIN encoder, a CycleGAN discriminator) are left out;
    files that cannot be read are kept, with :attr:`CheckpointEntry.error` saying why.
    """
    folders = [Path(folder) for folder in folders]
    runs = index_log_runs(_log_roots(folders))
    entries = []
    for path in _checkpoint_files(folders):
        try:
            state = read_checkpoint(path)
            if _is_encoder_only(state):
                continue
            entry = describe(path, state)
        except (ValueError, OSError, RuntimeError) as error:
            entries.append(CheckpointEntry(path=path, error=str(error).splitlines()[0]))
            continue
        del state  # large CycleGAN checkpoints: do not hold every file in memory while walking
        folder = runs.get(run_key(path.parent))
        summary = read_run(folder, run_key(path.parent)) if folder is not None else None
        if summary is not None:
            entry.run, entry.status = summary.name, summary.status
            found = [tag for tag in KEY_METRICS if math.isfinite(summary.metrics.get(tag, math.nan))]
            entry.metrics = {tag: summary.metrics[tag] for tag in found[:SHOWN_METRICS]}
        entries.append(entry)
    return sorted(entries, key=lambda e: (e.error is not None, e.model, e.norm_kind, e.affine is True, e.name))
