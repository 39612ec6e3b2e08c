"""Runs grouped into variants (the same configuration, different seeds) and variants into studies.

A variant is every run whose ``hparams.yaml`` is the same apart from ``seed``: its runs are repeats
of one configuration, and their spread is the seed-to-seed noise every comparison is judged
against. The ``ablation/...`` protocol entries other than the preset (reference, compare_within,
holds_equal, primary_metric) describe how to read the sweep rather than what was trained, so they do
not split variants either. A run without ``hparams.yaml`` (stopped before training began) joins the
variant whose runs share its folder, if exactly one does; otherwise it is a variant of its own,
named by its folder.

A study is the variants of one model and one ``ablation/preset``: comparisons never cross models
(their metrics are on different scales) or presets. Within a study each variant is compared with a
reference variant - the one ``--reference`` (else ``ablation/reference``) names, among the variants
that share the values of the ``--within`` (else ``ablation/compare_within``) keys, e.g. batch norm
at batch size 2 against instance norm at batch size 2, not at 16. With neither given, the first
variant in sort order is the reference.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stylenorm.report.runs import ReportError, RunSummary

#: hparams entries that do not make a variant: the seed, and the protocol that says how to read it.
NOT_IDENTITY = (
    "seed",
    "ablation/reference",
    "ablation/compare_within",
    "ablation/holds_equal",
    "ablation/primary_metric",
)

#: The identity of a run without hparams.yaml: its folder (``<model>/<variant>``, seed part removed).
FOLDER_KEY = "run/folder"

#: Order of the keys in labels and in sorting; other keys follow alphabetically.
LABEL_ORDER = (
    "model",
    "ablation/preset",
    "norm/kind",
    "norm/affine",
    "data/batch_size",
    "data/image_size",
    "norm/num_groups",
)

#: How a key is written in a label: None = the value alone (``batch``), else ``<short>=<value>``.
SHORT_NAMES: dict[str, str | None] = {
    "model": None,
    "ablation/preset": None,
    "norm/kind": None,
    FOLDER_KEY: None,
    "norm/affine": "affine",
    "data/batch_size": "bs",
    "data/image_size": "px",
    "norm/num_groups": "groups",
    "style_index": "style",  # a one-style network's style in a multi-style comparison (report/styles.py)
}


@dataclass(eq=False)  # compared (and hashed) by identity: two variants are never the same object
class Variant:
    """The runs of one configuration (all seeds), and its label in this report."""

    settings: dict[str, Any]
    runs: list[RunSummary] = field(default_factory=list)
    label: str = ""

    @property
    def model(self) -> str:
        return str(self.settings.get("model") or self.runs[0].model)

    @property
    def preset(self) -> str | None:
        return _blank_to_none(self.settings.get("ablation/preset"))

    @property
    def seeds(self) -> list[int | None]:
        return [run.seed for run in self.runs]


def _blank_to_none(value: Any) -> str | None:
    """The protocol entries are "" outside presets (``ablation: null`` in the config)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value)


def show_value(value: Any) -> str:
    return "—" if value is None else str(value)


def _folder_of(run: RunSummary) -> str:
    """``autoencoder/batch-affine_true`` for ``autoencoder/batch-affine_true,seed=1/version_0``."""
    parts = list(Path(run.name).parts)
    if parts and re.fullmatch(r"version_\d+", parts[-1]):
        parts.pop()
    if parts:
        kept = [item for item in parts[-1].split(",") if not item.startswith("seed=")]
        parts[-1] = ",".join(kept)
    return "/".join(parts)


def settings_of(run: RunSummary) -> dict[str, Any]:
    """What makes a run's variant: hparams.yaml minus :data:`NOT_IDENTITY`, else its folder."""
    if run.hparams:
        return {key: value for key, value in run.hparams.items() if key not in NOT_IDENTITY}
    return {"model": run.model, FOLDER_KEY: _folder_of(run)}


def _identity(settings: dict[str, Any]) -> tuple:
    return tuple(sorted((key, repr(value)) for key, value in settings.items()))


def differing_keys(variants: Sequence[Variant]) -> list[str]:
    """Settings whose value is not the same in every variant (a key missing somewhere counts as a
    value), in label order."""
    keys = {key for variant in variants for key in variant.settings}
    differ = [key for key in keys if len({repr(variant.settings.get(key)) for variant in variants}) > 1]
    return sorted(differ, key=_key_order)


def _key_order(key: str) -> tuple:
    return (LABEL_ORDER.index(key), "") if key in LABEL_ORDER else (len(LABEL_ORDER), key)


def label_keys(variants: Sequence[Variant]) -> list[str]:
    """The differing keys a label needs: each one, in label order, only if it tells apart variants
    that the keys before it do not. ``norm/layer_types`` follows from ``norm/kind`` and is left
    out; a key that changes together with another (a confound) is left out of the label too, but
    never out of the report: :func:`differing_keys` lists it in the settings table."""
    chosen: list[str] = []
    groups = [list(variants)]
    for key in differing_keys(variants):
        split = []
        for group in groups:
            by_value: dict[str, list[Variant]] = {}
            for variant in group:
                by_value.setdefault(repr(variant.settings.get(key)), []).append(variant)
            split += by_value.values()
        if len(split) > len(groups):
            chosen.append(key)
            groups = split
    return chosen


def format_label(settings: dict[str, Any], keys: Iterable[str]) -> str:
    parts = []
    for key in keys:
        value = show_value(settings.get(key))
        short = SHORT_NAMES.get(key, key)
        parts.append(value if short is None else f"{short}={value}")
    return ", ".join(parts)


def _sortable(value: Any) -> tuple:
    if value is None:
        return (2, "")
    if isinstance(value, bool | int | float):
        return (0, float(value))
    return (1, str(value))


def group_variants(runs: Sequence[RunSummary]) -> list[Variant]:
    """The variants of ``runs``, sorted (model, preset, then the differing keys in label order),
    each labelled with the keys that tell it apart; runs within a variant keep their order."""
    by_identity: dict[tuple, Variant] = {}
    orphans = []
    for run in runs:
        if not run.hparams:
            orphans.append(run)
            continue
        settings = settings_of(run)
        by_identity.setdefault(_identity(settings), Variant(settings)).runs.append(run)
    for run in orphans:
        folder = _folder_of(run)
        owners = [v for v in by_identity.values() if {_folder_of(r) for r in v.runs} == {folder}]
        if len(owners) == 1:
            owners[0].runs.append(run)
        else:
            settings = settings_of(run)
            by_identity.setdefault(_identity(settings), Variant(settings)).runs.append(run)
    variants = list(by_identity.values())
    order = differing_keys(variants)
    variants.sort(key=lambda v: (v.model, v.preset or "", *(_sortable(v.settings.get(key)) for key in order)))
    keys = label_keys(variants)
    for variant in variants:
        variant.runs.sort(key=lambda run: run.sort_key)
        variant.label = format_label(variant.settings, keys) or _fallback_label(variant)
    return variants


def _fallback_label(variant: Variant) -> str:
    """A single variant (nothing differs): its norm and affine flag, or its folder."""
    keys = [key for key in ("norm/kind", "norm/affine") if key in variant.settings] or [FOLDER_KEY]
    return format_label(variant.settings, keys)


# --- studies and references -------------------------------------------------------------------


@dataclass(eq=False)
class Study:
    """The variants of one model and preset, with the protocol of their comparison."""

    model: str
    preset: str | None
    variants: list[Variant]
    reference_spec: dict[str, str] | None = None  # key -> value; None: first variant in sort order
    reference_source: str = ""
    within: tuple[str, ...] = ()
    within_source: str = ""
    holds_equal: list[str] = field(default_factory=list)  # ablation/holds_equal texts (normally one)
    primary_hparam: str | None = None  # ablation/primary_metric
    references: dict[Variant, Variant | None] = field(default_factory=dict)  # variant -> its reference
    notes: list[str] = field(default_factory=list)  # e.g. a group of variants without a reference

    @property
    def runs(self) -> list[RunSummary]:
        return [run for variant in self.variants for run in variant.runs]

    @property
    def title(self) -> str:
        return f"{self.model}, preset {self.preset}" if self.preset else self.model


def normalize_key(key: str) -> str:
    """Accept config spelling for hparams names: ``norm.kind`` -> ``norm/kind``."""
    return key.strip().replace(".", "/")


def parse_assignments(text: str) -> dict[str, str]:
    """``norm/kind=instance,norm/affine=True`` -> {"norm/kind": "instance", "norm/affine": "True"}."""
    assignments = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ReportError(f"reference {text!r}: expected key=value pairs separated by commas, got {item!r}")
        assignments[normalize_key(key)] = value.strip()
    if not assignments:
        raise ReportError(f"reference {text!r} names no key=value pair")
    return assignments


def parse_keys(text: str) -> tuple[str, ...]:
    return tuple(normalize_key(key) for key in text.split(",") if key.strip())


def same_value(setting: Any, wanted: str) -> bool:
    """Does an hparams value match a value typed on the command line? ``True`` matches ``true``,
    ``16`` matches ``16.0``, ``1e-05`` matches ``1.0e-05``."""
    if isinstance(setting, bool):
        return wanted.lower() == str(setting).lower()
    if setting is None:
        return wanted.lower() in ("none", "null", "")
    if isinstance(setting, int | float):
        try:
            return float(wanted) == float(setting)
        except ValueError:
            return False
    return str(setting) == wanted


def _protocol(runs: Iterable[RunSummary], key: str) -> list[str]:
    return list(dict.fromkeys(v for run in runs if (v := _blank_to_none(run.hparams.get(key))) is not None))


def _check_keys(study: Study, keys: Iterable[str], what: str) -> None:
    known = {key for variant in study.variants for key in variant.settings}
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ReportError(f"{what} key {key!r} is in no hparams.yaml of {study.title}{hint}")


def _one_protocol_value(study: Study, key: str, override: str | None, option: str) -> tuple[str | None, str]:
    if override is not None:
        return override, f"{option} on the command line"
    values = _protocol(study.runs, key)
    if len(values) > 1:
        raise ReportError(
            f"the runs of {study.title} disagree on {key}: {values}; pass {option} to decide, "
            "or report on a folder holding one sweep"
        )
    return (values[0], f"{key} in the runs' hparams") if values else (None, "")


def build_studies(
    variants: Sequence[Variant],
    reference: str | None = None,
    within: str | None = None,
) -> list[Study]:
    """Studies (model, preset) with each variant's reference; ``reference``/``within`` override
    the runs' ``ablation/reference``/``ablation/compare_within``."""
    by_key: dict[tuple, Study] = {}
    for variant in variants:
        key = (variant.model, variant.preset)
        by_key.setdefault(key, Study(variant.model, variant.preset, [])).variants.append(variant)
    studies = list(by_key.values())
    for study in studies:
        spec, study.reference_source = _one_protocol_value(study, "ablation/reference", reference, "--reference")
        keys, study.within_source = _one_protocol_value(study, "ablation/compare_within", within, "--within")
        study.reference_spec = parse_assignments(spec) if spec else None
        study.within = parse_keys(keys) if keys else ()
        if study.reference_spec is None:
            study.reference_source = (
                "none given (no --reference, no ablation/reference): the first variant in sort order"
            )
        if not study.within:
            study.within_source = study.within_source or "none given: one reference for the whole study"
        study.holds_equal = _protocol(study.runs, "ablation/holds_equal")
        primaries = _protocol(study.runs, "ablation/primary_metric")
        study.primary_hparam = primaries[0] if len(primaries) == 1 else None
        if len(primaries) > 1:
            study.notes.append(f"the runs disagree on ablation/primary_metric ({', '.join(primaries)}): not used")
        _assign_references(study)
        for variant in study.variants:
            folders = sorted({_folder_of(run) for run in variant.runs})
            if len(folders) > 1:  # run names record overrides; hparams.yaml may lack one of them
                study.notes.append(
                    f"the runs of {variant.label} have the same hparams but come from {len(folders)} run folders "
                    f"({', '.join(folders)}): check that they are one configuration"
                )
    unmatched = [study for study in studies if study.reference_spec and not any(study.references.values())]
    if unmatched and len(unmatched) == sum(1 for study in studies if study.reference_spec):
        study = unmatched[0]  # nothing matches anywhere: most likely a typo in the value
        spec = ",".join(f"{k}={w}" for k, w in study.reference_spec.items())
        seen = {k: sorted({show_value(v.settings.get(k)) for v in study.variants}) for k in study.reference_spec}
        raise ReportError(f"no variant of {study.title} matches the reference {spec}; values seen: {seen}")
    return studies


def _assign_references(study: Study) -> None:
    _check_keys(study, study.within, "--within / ablation/compare_within")
    if study.reference_spec:
        _check_keys(study, study.reference_spec, "--reference / ablation/reference")
    groups: dict[tuple, list[Variant]] = {}
    for variant in study.variants:
        key = tuple(repr(variant.settings.get(k)) for k in study.within)
        groups.setdefault(key, []).append(variant)
    for members in groups.values():
        where = ", ".join(f"{k}={show_value(members[0].settings.get(k))}" for k in study.within)
        if study.reference_spec is None:
            candidates = members[:1]
        else:
            candidates = [
                v for v in members if all(same_value(v.settings.get(k), w) for k, w in study.reference_spec.items())
            ]
        if len(candidates) > 1:
            spec = ",".join(f"{k}={w}" for k, w in study.reference_spec.items())
            raise ReportError(
                f"reference {spec} matches {len(candidates)} variants of {study.title}"
                f"{' with ' + where if where else ''}: {'; '.join(v.label for v in candidates)}. "
                "Name more keys in --reference (or add a key to --within)"
            )
        reference = candidates[0] if candidates else None
        if reference is None:
            study.notes.append(
                f"no variant matches the reference{' with ' + where if where else ''}: "
                f"{', '.join(v.label for v in members)} compared with nothing"
            )
        for variant in members:
            study.references[variant] = reference
