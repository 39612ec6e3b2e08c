"""The checkpoints the page offers: the ``.ckpt``, ``.pth`` and ``.model`` files under the run folders, each with
the registry's answer to "what is this file" (:func:`stylenorm.networks.public_checkpoints.identify`) and its run's
status and final metrics from its ``result.json``. Unreadable files are listed with the reason.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

from stylenorm.demo.inputs import first_line
from stylenorm.inference import read_checkpoint
from stylenorm.networks.public_checkpoints import CheckpointKind, identify
from stylenorm.run_record import read_result

log = logging.getLogger(__name__)

#: What ``--checkpoint`` of the stylize command takes.
CHECKPOINT_SUFFIXES = (".ckpt", ".pth", ".model")

#: Searched when no folder is given, relative to where the page is started (train.py's defaults).
DEFAULT_RUN_FOLDERS = ("checkpoints", "logs")

#: Metrics shown next to a checkpoint, the first :data:`SHOWN_METRICS` its run logged, in this order; then the
#: training totals (the style/autoencoder loss, CycleGAN's generator's), not their components.
KEY_METRICS = ("val/psnr", "val/ssim", "val/contrast_invariance_l1", "val/loss", "val/total", "train/loss", "train/G")
SHOWN_METRICS = 3

#: The folders under paths.log_dir (and paths.checkpoint_dir) where the run layout starts.
LAYOUT_ROOTS = ("runs", "multirun")

UNREADABLE = CheckpointKind("unreadable", "?", {}, "", "?", None)


@dataclasses.dataclass
class CheckpointEntry:
    """One file: the registry's :class:`~stylenorm.networks.public_checkpoints.CheckpointKind` (its fields read as
    ``entry.model``, ...), the AdaIN ``encoder`` beside a public decoder, its run, ``status``, metrics; or ``error``."""

    path: Path
    kind: CheckpointKind = UNREADABLE
    encoder: Path | None = None
    run: str | None = None
    status: str | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    error: str | None = None

    def __getattr__(self, name: str):  # only for names that are not the entry's own: format, model, norm_kind, ...
        if name == "kind":  # not set yet (copy, unpickling)
            raise AttributeError(name)
        return getattr(self.kind, name)

    @property
    def takes_style_images(self) -> bool:
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
        """The run and file (``runs/<time>_autoencoder-instance/last.ckpt``), or the file name."""
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
        """Label for a result: model, norm, the controls used (``settings``) and the run."""
        used = f", {settings}" if settings else ""
        return f"{self.model}: {self.norm_label}{used} ({self.name})"


def describe(path: Path, kind: CheckpointKind | None = None) -> CheckpointEntry:
    """What the checkpoint at ``path`` is (model, norm), from the file alone (``kind`` when already known)."""
    kind = kind or identify(read_checkpoint(path))
    if not kind.runnable:
        raise ValueError(f"a {kind.format.replace('_', ' ')} file, which the stylize command does not run")
    entry = CheckpointEntry(path, kind)
    if kind.format == "adain_decoder":  # the port keeps vgg_normalised.pth next to decoder.pth
        beside = (path.with_name("vgg_normalised.pth"), *sorted(path.parent.glob("*vgg*.pth")))
        entry.encoder = next((file for file in beside if file.is_file() and file != path), None)
    return entry


def run_key(folder: str | os.PathLike) -> str:
    """``.../logs/multirun/<time>/3_norm-group`` -> ``multirun/<time>/3_norm-group`` (outside the layout: itself)."""
    parts = Path(folder).parts
    starts = [i for i, part in enumerate(parts) if part in LAYOUT_ROOTS]
    return "/".join(parts[starts[-1] :]) if starts else Path(folder).as_posix()


def index_log_runs(roots: Iterable[str | os.PathLike]) -> dict[str, Path]:
    """Run key -> run folder (with ``.hydra/config.yaml``) under ``roots``; on a clash the first wins, logged: a
    checkpoint's metrics must not come from another run."""
    index: dict[str, Path] = {}
    for root in map(Path, roots):
        for config in sorted(root.rglob(".hydra/config.yaml")) if root.is_dir() else ():
            folder = config.parent.parent
            key = run_key(folder)
            if index.setdefault(key, folder) != folder:
                log.warning("Two log folders for run %s: %s and %s; using the first.", key, index[key], folder)
    return index


def _checkpoint_files(folders: Iterable[Path]) -> list[Path]:
    paths = [path for folder in folders for path in (sorted(folder.rglob("*")) if folder.is_dir() else [folder])]
    # dict.fromkeys: in order and without repeats when folders nest
    return list(dict.fromkeys(p.resolve() for p in paths if p.suffix in CHECKPOINT_SUFFIXES and p.is_file()))


def find_checkpoints(folders: Iterable[str | os.PathLike] = DEFAULT_RUN_FOLDERS) -> list[CheckpointEntry]:
    """Every checkpoint under ``folders`` (or given as files), sorted by model and norm. Files that only serve another
    (an AdaIN encoder, a CycleGAN discriminator) are left out; unreadable ones are kept with their ``error``."""
    folders = [Path(folder) for folder in folders]
    roots = []  # run logs: in the folders themselves, and in logs/ beside a checkpoints/ folder
    for folder in folders:
        roots += [folder, folder.parent / "logs"] if folder.name == "checkpoints" else [folder]
    runs = index_log_runs(roots)
    entries = []
    for path in _checkpoint_files(folders):
        try:
            kind = identify(read_checkpoint(path))  # not kept: large CycleGAN files would fill the memory
            if not kind.runnable:
                continue
            entry = describe(path, kind)
        except (ValueError, OSError, RuntimeError) as error:
            entries.append(CheckpointEntry(path=path, error=first_line(error)))
            continue
        key = run_key(path.parent)
        if key in runs:
            record = read_result(runs[key])
            entry.run, entry.status, metrics = key, record["status"], record["metrics"]
            found = [tag for tag in KEY_METRICS if math.isfinite(metrics.get(tag, math.nan))]
            entry.metrics = {tag: metrics[tag] for tag in found[:SHOWN_METRICS]}
        entries.append(entry)
    return sorted(entries, key=lambda e: (e.error is not None, e.model, e.norm_kind, e.affine is True, e.name))
