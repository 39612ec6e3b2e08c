"""Finding the runs of a sweep and reading what each one is and what it measured.

A run is a folder with ``events.out.tfevents.*`` files (``<model>/<variant>/version_N`` as named by
:mod:`stylenorm.run_naming`). Its identity comes from ``hparams.yaml`` (written by Lightning from
:meth:`ImageTranslationTask.run_summary`), else from the folder name, with the data sizes and the
seed also looked up in ``config.yaml`` (written at the start of a run, so a run that crashed still
has it). How it ended comes from ``result.json`` (:mod:`stylenorm.run_record`, written at the end of
a run); a run without one is "incomplete": killed, still running, or logged before runs wrote it.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

#: Folders directly under LOGDIR that hold no runs: Hydra's own output and our layout file.
SKIPPED_TOP_LEVEL = ("hydra", ".layout")

#: The tasks' validation grids (CycleGAN, style, autoencoder); preferred over any other ``val/`` image.
GRID_TAGS = ("val/A_fakeB_recA_B_fakeA_recB", "val/content_stylized", "val/input_output")

#: ``result.json`` statuses (:func:`stylenorm.run_record.write_result`), and ours for a run without one.
FINISHED, INCOMPLETE = "finished", "incomplete"
RESULT_FILE = "result.json"

#: Scalar tags whose whole series is kept (learning curves, convergence); others keep their final value.
SERIES_PREFIXES = ("val/", "train/")

_VARIANT = re.compile(r"(?P<kind>[A-Za-z0-9_]+)-affine_(?P<affine>true|false)(?:,(?P<extras>.*))?")


class ReportError(Exception):
    """A problem with the input that a person can fix (wrong LOGDIR, no runs, ...)."""


@dataclass
class RunSummary:
    """One run: who it is (model, norm, data sizes) and the final values it logged."""

    path: Path
    name: str  # the run folder relative to LOGDIR, e.g. "autoencoder/batch-affine_true/version_0"
    model: str = "?"
    norm_kind: str = "?"
    affine: bool | None = None
    batch_size: int | None = None
    image_size: int | None = None
    extras: dict[str, str] = field(default_factory=dict)  # other k=v parts of the run name
    steps: int | None = None  # last global step seen in the event files
    metrics: dict[str, float] = field(default_factory=dict)  # scalar tag -> last finite value
    grid_tag: str | None = None
    grid_png: bytes | None = None  # the last validation image grid, PNG-encoded
    hparams: dict[str, Any] = field(default_factory=dict)  # hparams.yaml as written ({} when missing)
    seed: int | None = None  # hparams ``seed``, else config.yaml ``seed``
    status: str = INCOMPLETE  # result.json ``status``; "incomplete" without a readable result.json
    error: str | None = None  # result.json ``error``, or why result.json could not be read
    result_step: int | None = None  # result.json ``global_step``: where the run ended, by its own account
    final: dict[str, float] = field(default_factory=dict)  # scalar tag -> last logged value, finite or not
    final_step: dict[str, int] = field(default_factory=dict)  # scalar tag -> step of that value
    # val/ and train/ tag -> [(step, value)] by step, one value per step (the last logged), NaN kept
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple:
        return (self.model, self.norm_kind, self.affine is True, _natural_key(Path(self.name)))

    def label(self) -> str:
        """``batch, affine=True, bs=16`` plus any other part of the run name that sets it apart."""
        parts = [
            self.norm_kind,
            f"affine={self.affine}",
            f"bs={self.batch_size if self.batch_size is not None else '?'}",
        ]
        parts += [f"{k}={v}" for k, v in self.extras.items() if k not in ("batch_size", "image_size")]
        return ", ".join(parts)


def find_run_dirs(logdir: str | os.PathLike) -> list[Path]:
    """Every folder under ``logdir`` (recursively) holding an events file, Hydra's output skipped."""
    root = Path(logdir)
    if not root.is_dir():
        raise ReportError(
            f"LOGDIR {root} is not a folder; expected a sweep's log folder (paths.log_dir, e.g. logs/) "
            "holding <model>/<variant>/version_N/events.out.tfevents.* run folders"
        )
    found = set()
    for events in root.rglob("events.out.tfevents.*"):
        relative = events.parent.relative_to(root)
        if relative.parts and relative.parts[0] in SKIPPED_TOP_LEVEL:
            continue
        found.add(events.parent)
    if not found:
        raise ReportError(
            f"LOGDIR {root} holds no run: expected <model>/<variant>/version_N/ folders with "
            "events.out.tfevents.* files below it (give the folder train.py logged to, paths.log_dir)"
        )
    return sorted(found, key=_natural_key)


def _natural_key(path: Path) -> tuple:
    """``version_2`` before ``version_10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix()))


def identity_from_folder(name: str) -> dict[str, Any]:
    """``autoencoder/group-affine_true,num_groups=8,batch_size=2/version_0`` -> model, norm, extras.

    Unknown layouts give what can be read (at least nothing), never an error: the folder may have
    been renamed by hand, and hparams.yaml usually says the rest.
    """
    parts = Path(name).parts
    if parts and re.fullmatch(r"version_\d+", parts[-1]):
        parts = parts[:-1]
    identity: dict[str, Any] = {}
    if not parts or not (match := _VARIANT.fullmatch(parts[-1])):
        return identity
    identity["norm_kind"] = match["kind"]
    identity["affine"] = match["affine"] == "true"
    if len(parts) >= 2:
        identity["model"] = parts[-2]
    extras = dict(item.partition("=")[::2] for item in (match["extras"] or "").split(",") if "=" in item)
    identity["extras"] = extras
    for key in ("batch_size", "image_size"):
        if extras.get(key, "").isdigit():
            identity[key] = int(extras[key])
    return identity


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError:  # half-written by a run that was killed: fall back to the folder name
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _identify(run: RunSummary) -> None:
    """Fill model, norm and data sizes: hparams.yaml first, then the folder name, then config.yaml."""
    from_folder = identity_from_folder(run.name)
    run.extras = from_folder.get("extras", {})
    hparams = _read_yaml(run.path / "hparams.yaml")
    config = _read_yaml(run.path / "config.yaml")
    data = config.get("data") if isinstance(config.get("data"), dict) else {}

    run.hparams = hparams
    run.seed = _as_int(hparams.get("seed"))
    if run.seed is None:
        run.seed = _as_int(config.get("seed"))
    run.model = str(hparams.get("model") or from_folder.get("model") or "?")
    run.norm_kind = str(hparams.get("norm/kind") or from_folder.get("norm_kind") or "?")
    affine = _as_bool(hparams.get("norm/affine"))
    run.affine = affine if affine is not None else from_folder.get("affine")
    for key in ("batch_size", "image_size"):
        value = _as_int(hparams.get(f"data/{key}"))
        if value is None:
            value = from_folder.get(key, _as_int(data.get(key)))
        setattr(run, key, value)


def _read_result(run: RunSummary) -> None:
    """Status and error from ``result.json``; a missing or unreadable one leaves the run "incomplete"."""
    path = run.path / RESULT_FILE
    if not path.is_file():
        return
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        run.error = f"{RESULT_FILE} unreadable: {error}"
        return
    if not isinstance(result, dict) or not isinstance(result.get("status"), str):
        run.error = f"{RESULT_FILE} has no status"
        return
    run.status = result["status"]
    run.result_step = _as_int(result.get("global_step"))
    run.error = result.get("error") if isinstance(result.get("error"), str) else None


def _read_events(run: RunSummary) -> None:
    """Final scalars (the last finite one and the last one), the val/ and train/ series, the last
    global step and the last validation grid from the run's event files."""
    # Scalars: keep all (the last finite one is wanted, NaN placeholders come first). Images: a
    # reservoir of 1 always keeps the latest, and a long CycleGAN run holds hundreds of grids.
    accumulator = EventAccumulator(str(run.path), size_guidance={"scalars": 0, "images": 1})
    try:
        accumulator.Reload()
    except Exception as error:  # a truncated file from a killed run: name it rather than crash later
        raise ReportError(f"could not read the event files in {run.path}: {error}") from error
    tags = accumulator.Tags()
    last_steps = []
    for tag in tags["scalars"]:
        # By step, then by time: a run's event files are read one after another, and the final
        # validation can log the same step twice; the later value is the one the run ended with.
        events = sorted(accumulator.Scalars(tag), key=lambda event: (event.step, event.wall_time))
        last_steps.append(events[-1].step)
        finite = [event.value for event in events if math.isfinite(event.value)]
        if finite:
            run.metrics[tag] = finite[-1]
        run.final[tag] = events[-1].value
        run.final_step[tag] = events[-1].step
        if tag.startswith(SERIES_PREFIXES):
            run.series[tag] = sorted({event.step: event.value for event in events}.items())
    grid_tags = sorted((tag for tag in tags["images"] if tag.startswith("val/")), key=lambda t: (t not in GRID_TAGS, t))
    if grid_tags:
        run.grid_tag = grid_tags[0]
        run.grid_png = accumulator.Images(run.grid_tag)[-1].encoded_image_string
        last_steps.append(accumulator.Images(run.grid_tag)[-1].step)
    run.steps = max(last_steps, default=None)


def collect_runs(logdir: str | os.PathLike) -> list[RunSummary]:
    """Every run under ``logdir``, identified and with its final values, sorted by model, norm, affine."""
    root = Path(logdir)
    runs = []
    for path in find_run_dirs(root):
        run = RunSummary(path=path, name=path.relative_to(root).as_posix())
        _identify(run)
        _read_result(run)
        _read_events(run)
        runs.append(run)
    return sorted(runs, key=lambda run: run.sort_key)
