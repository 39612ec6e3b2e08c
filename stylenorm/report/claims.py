"""Claims declared before the runs (docs/evidence.md, 1): the schema, validated.

A preset declares them under ``ablation.claims``, so every run's ``.hydra/config.yaml`` records the
claims it was run for; the report tests exactly these, each in its declared Holm family, and only
describes the other variants. Selectors (``a``, ``b``, ``where``) map dotted config keys to a value
or a list of values; ``comparison.within`` tests a difference once per level of those keys.
"""

# The schema, by example (configs/experiment/bn_vs_gn_small_batch.yaml holds real ones):
#   ablation:
#     score_last_k: 3                      # a run's score: the mean of its last k validations
#     claims:
#       - id: bn_falls_with_batch           # unique within the preset
#         sentence: "BN's PSNR falls faster than GN's as the batch shrinks"
#         source: "seed 002 §7; Wu & He 2018, Fig. 1"
#         metrics: [val/psnr]
#         comparison: {type: trend, factor: data.batch_size, scale: log2,    # or type: difference
#                      a: {norm.kind: batch}, b: {norm.kind: group}}          # b omitted: A's own slope
#         expect: greater                   # greater | less | equivalent, of A - B (or of the slopes)
#         smallest_effect: 0.25             # metric units (per factor unit for trends; a ratio > 1 with
#                                           # log_scale: true); also the equivalence margin
#         family: bn_vs_gn                  # Holm's correction runs over one family's tests
#         budget: "45 epochs at every batch size"
#         pairing: seed                     # seed | none: A and B share seeds (common random numbers)
#         plateau: {val/psnr: 0.5}          # |slope| per 1000 steps under which a metric has plateaued
#         where: {data.known_answer: null}  # optional: the runs the claim is about

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

COMPARISON_TYPES = ("difference", "trend")
EXPECTATIONS = ("greater", "less", "equivalent")
SCALES = ("linear", "log2")
PAIRINGS = ("seed", "none")
REQUIRED = ("id", "sentence", "source", "metrics", "comparison", "expect", "smallest_effect", "family", "budget")
OPTIONAL = ("pairing", "plateau", "where", "log_scale")
#: A run's score is the mean of its last k validations; the default when a preset does not say.
DEFAULT_LAST_K = 3


class ClaimError(ValueError):
    """A claim that cannot be tested as written; the message names the claim, the key and the fix."""


@dataclass(frozen=True)
class Comparison:
    type: str  # difference | trend
    a: dict[str, tuple]  # dotted config key -> accepted values
    b: dict[str, tuple] | None  # None: a trend of A alone
    factor: str | None = None  # trend: the config key the metric is regressed on
    scale: str = "linear"  # trend: linear or log2 of the factor
    within: tuple[str, ...] = ()  # difference: one test per level of these keys


@dataclass(frozen=True)
class Claim:
    id: str
    sentence: str
    source: str
    metrics: tuple[str, ...]
    comparison: Comparison
    expect: str
    smallest_effect: float
    family: str
    budget: str
    pairing: str = "none"
    plateau: dict[str, float] = field(default_factory=dict)
    where: dict[str, tuple] = field(default_factory=dict)
    log_scale: bool = False


def _fail(where: str, message: str) -> ClaimError:
    return ClaimError(f"{where}: {message}")


def _selector(value: Any, where: str, key: str) -> dict[str, tuple]:
    if not isinstance(value, Mapping) or not value:
        raise _fail(where, f"{key} must map config keys to values, e.g. {{norm.kind: batch}}; got {value!r}")
    out = {}
    for name, accepted in value.items():
        values = tuple(accepted) if isinstance(accepted, (list, tuple)) else (accepted,)
        if not values:
            raise _fail(where, f"{key}.{name} lists no value")
        out[str(name)] = values
    return out


def _comparison(raw: Any, where: str) -> Comparison:
    if not isinstance(raw, Mapping):
        raise _fail(where, f"comparison must be a mapping with type, a (and b); got {raw!r}")
    unknown = set(raw) - {"type", "a", "b", "factor", "scale", "within"}
    if unknown:
        raise _fail(where, f"comparison has unknown keys {sorted(unknown)}; allowed: type, a, b, factor, scale, within")
    kind = raw.get("type")
    if kind not in COMPARISON_TYPES:
        raise _fail(where, f"comparison.type must be one of {COMPARISON_TYPES}, got {kind!r}")
    a = _selector(raw.get("a"), where, "comparison.a")
    b = None if raw.get("b") is None else _selector(raw.get("b"), where, "comparison.b")
    scale = raw.get("scale", "linear")
    if scale not in SCALES:
        raise _fail(where, f"comparison.scale must be one of {SCALES}, got {scale!r}")
    within = raw.get("within") or ()
    within = (within,) if isinstance(within, str) else tuple(within)
    factor = raw.get("factor")
    if kind == "difference":
        if b is None:
            raise _fail(where, "a difference compares two groups: give comparison.b as well as comparison.a")
        if factor is not None:
            raise _fail(where, "comparison.factor belongs to type: trend; a difference uses within: [...] per level")
    else:
        if not isinstance(factor, str) or not factor:
            raise _fail(where, "a trend needs comparison.factor, the config key it runs over, e.g. data.batch_size")
        if within:
            raise _fail(where, "comparison.within is for type: difference; a trend regresses over its factor")
    if b is not None and a == b:
        raise _fail(where, f"comparison.a and comparison.b select the same runs ({a}); they must differ")
    return Comparison(kind, a, b, factor, scale, within)


def _claim(raw: Any, index: int, preset: str) -> Claim:
    where = f"{preset} ablation.claims[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(where, f"a claim is a mapping with keys {REQUIRED}; got {raw!r}")
    if isinstance(raw.get("id"), str):
        where = f"{preset} claim {raw['id']!r}"
    missing = [key for key in REQUIRED if raw.get(key) in (None, "", [])]
    if missing:
        raise _fail(where, f"missing {missing}: every claim states {', '.join(REQUIRED)} before its runs")
    unknown = set(raw) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}; allowed: {REQUIRED + OPTIONAL}")
    metrics = raw["metrics"]
    metrics = (metrics,) if isinstance(metrics, str) else tuple(str(m) for m in metrics)
    if raw["expect"] not in EXPECTATIONS:
        raise _fail(where, f"expect must be one of {EXPECTATIONS}, got {raw['expect']!r}")
    try:
        effect = float(raw["smallest_effect"])
    except (TypeError, ValueError):
        raise _fail(where, f"smallest_effect must be a number, got {raw['smallest_effect']!r}") from None
    log_scale = bool(raw.get("log_scale", False))
    if not math.isfinite(effect) or effect <= 0 or (log_scale and effect <= 1):
        need = "a ratio > 1 (log_scale: true)" if log_scale else "a positive number in the metric's units"
        raise _fail(where, f"smallest_effect must be {need}, got {raw['smallest_effect']!r}")
    pairing = raw.get("pairing", "none")
    if pairing not in PAIRINGS:
        raise _fail(where, f"pairing must be one of {PAIRINGS}, got {pairing!r}")
    plateau = raw.get("plateau") or {}
    if not isinstance(plateau, Mapping) or any(not isinstance(v, (int, float)) or v <= 0 for v in plateau.values()):
        raise _fail(where, f"plateau maps metrics to positive slope thresholds (per 1000 steps); got {plateau!r}")
    if set(plateau) - set(metrics):
        raise _fail(where, f"plateau names {sorted(set(plateau) - set(metrics))}, not among metrics {list(metrics)}")
    comparison = _comparison(raw["comparison"], where)
    if comparison.type == "trend" and log_scale:
        raise _fail(where, "log_scale is for differences; regress a trend on the metric itself")
    return Claim(
        id=str(raw["id"]),
        sentence=str(raw["sentence"]),
        source=str(raw["source"]),
        metrics=metrics,
        comparison=comparison,
        expect=raw["expect"],
        smallest_effect=effect,
        family=str(raw["family"]),
        budget=str(raw["budget"]),
        pairing=pairing,
        plateau={str(k): float(v) for k, v in plateau.items()},
        where=_selector(raw["where"], where, "where") if raw.get("where") else {},
        log_scale=log_scale,
    )


def parse_claims(raw: Sequence[Any] | None, preset: str = "preset") -> list[Claim]:
    """Validate ``ablation.claims`` (a list of mappings); a problem raises :class:`ClaimError` naming it."""
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise _fail(preset, f"ablation.claims must be a list of claims, got {type(raw).__name__}")
    claims = [_claim(item, index, preset) for index, item in enumerate(raw)]
    seen: set[str] = set()
    for claim in claims:
        if claim.id in seen:
            raise _fail(preset, f"claim id {claim.id!r} is used twice; ids must be unique")
        seen.add(claim.id)
    return claims


def last_k(ablation: Mapping[str, Any] | None) -> int:
    """``ablation.score_last_k`` (a run's score is the mean of its last k validations)."""
    value = (ablation or {}).get("score_last_k", DEFAULT_LAST_K)
    if not isinstance(value, int) or isinstance(value, bool) or value < 2:
        raise ClaimError(f"ablation.score_last_k must be an integer >= 2 (a slope needs two points), got {value!r}")
    return value


def same(value: Any, other: Any) -> bool:
    """Whether two setting values are the same (see :func:`_text`)."""
    return setting_text(value) == setting_text(other)


def across_tasks(ablation: Mapping[str, Any] | None) -> dict[str, str] | None:
    """``ablation.across_tasks``: {task: the config key naming the task, metric, nothing: the metric of
    doing nothing} - the cross-task summary (IQM, probability of improvement), or None."""
    spec = (ablation or {}).get("across_tasks")
    if spec is None:
        return None
    if not isinstance(spec, Mapping) or any(not isinstance(spec.get(k), str) for k in ("task", "metric", "nothing")):
        raise ClaimError(
            "ablation.across_tasks needs task (a config key, e.g. data.known_answer), metric (e.g. val/psnr) and "
            f"nothing (the metric of doing nothing, e.g. val/psnr_identity_baseline); got {spec!r}"
        )
    return {k: str(spec[k]) for k in ("task", "metric", "nothing")}


def matches(settings: Mapping[str, Any], selector: Mapping[str, tuple]) -> bool:
    """Whether a run's flat settings (dotted keys) satisfy a selector; values compare as text
    (``True`` = ``true``), so a yaml selector need not know how Hydra typed the value."""
    return all(setting_text(settings.get(key)) in {setting_text(v) for v in values} for key, values in selector.items())


def setting_text(value: Any) -> str:
    """One spelling per value: pandas turns an int column with a missing cell into floats (2 -> 2.0)
    and the missing cell into NaN, and a CSV round trip may do the same."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower()
