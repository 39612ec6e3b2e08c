"""Claims declared before the runs (docs/evidence.md, 1), validated against the schema in docs/training.md,
"Normalization ablations". Selectors (``a``, ``b``, ``where``) map dotted config keys to a value or a list of
values; ``comparison.within`` tests a difference once per level of those keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REQUIRED = ("id", "sentence", "source", "metrics", "comparison", "expect", "smallest_effect", "family", "budget")
OPTIONAL = ("pairing", "plateau", "where", "log_scale")
COMPARISON_KEYS = ("type", "a", "b", "factor", "scale", "within")
ACROSS_TASKS_KEYS = ("task", "metric", "nothing")
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

    @property
    def margin(self) -> float:
        """The smallest effect on the scale it is tested on (the log of a ratio with ``log_scale``)."""
        return math.log(self.smallest_effect) if self.log_scale else self.smallest_effect


def _fail(where: str, message: str) -> ClaimError:
    return ClaimError(f"{where}: {message}")


def _one_of(value: Any, allowed: tuple, where: str, name: str) -> Any:
    if value not in allowed:
        raise _fail(where, f"{name} must be one of {allowed}, got {value!r}")
    return value


def _selector(value: Any, where: str, key: str) -> dict[str, tuple]:
    if not isinstance(value, Mapping) or not value:
        raise _fail(where, f"{key} must map config keys to values, e.g. {{norm.kind: batch}}; got {value!r}")
    out = {}
    for name, accepted in value.items():
        out[str(name)] = tuple(accepted) if isinstance(accepted, (list, tuple)) else (accepted,)
        if not out[str(name)]:
            raise _fail(where, f"{key}.{name} lists no value")
    return out


def _comparison(raw: Any, where: str) -> Comparison:
    if not isinstance(raw, Mapping):
        raise _fail(where, f"comparison must be a mapping with type, a (and b); got {raw!r}")
    if unknown := set(raw) - set(COMPARISON_KEYS):
        raise _fail(where, f"comparison has unknown keys {sorted(unknown)}; allowed: {', '.join(COMPARISON_KEYS)}")
    kind = _one_of(raw.get("type"), ("difference", "trend"), where, "comparison.type")
    a = _selector(raw.get("a"), where, "comparison.a")
    b = None if raw.get("b") is None else _selector(raw.get("b"), where, "comparison.b")
    scale = _one_of(raw.get("scale", "linear"), ("linear", "log2"), where, "comparison.scale")
    within = raw.get("within") or ()
    within = (within,) if isinstance(within, str) else tuple(within)
    factor = raw.get("factor")
    if kind == "difference" and b is None:
        raise _fail(where, "a difference compares two groups: give comparison.b as well as comparison.a")
    if kind == "difference" and factor is not None:
        raise _fail(where, "comparison.factor belongs to type: trend; a difference uses within: [...] per level")
    if kind == "trend" and (not isinstance(factor, str) or not factor):
        raise _fail(where, "a trend needs comparison.factor, the config key it runs over, e.g. data.batch_size")
    if kind == "trend" and within:
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
    if missing := [key for key in REQUIRED if raw.get(key) in (None, "", [])]:
        raise _fail(where, f"missing {missing}: every claim states {', '.join(REQUIRED)} before its runs")
    if unknown := set(raw) - set(REQUIRED) - set(OPTIONAL):
        raise _fail(where, f"unknown keys {sorted(unknown)}; allowed: {REQUIRED + OPTIONAL}")
    metrics = (raw["metrics"],) if isinstance(raw["metrics"], str) else tuple(str(m) for m in raw["metrics"])
    _one_of(raw["expect"], ("greater", "less", "equivalent"), where, "expect")
    try:
        effect = float(raw["smallest_effect"])
    except (TypeError, ValueError):
        raise _fail(where, f"smallest_effect must be a number, got {raw['smallest_effect']!r}") from None
    log_scale = bool(raw.get("log_scale", False))
    if not math.isfinite(effect) or effect <= 0 or (log_scale and effect <= 1):
        need = "a ratio > 1 (log_scale: true)" if log_scale else "a positive number in the metric's units"
        raise _fail(where, f"smallest_effect must be {need}, got {raw['smallest_effect']!r}")
    pairing = _one_of(raw.get("pairing", "none"), ("seed", "none"), where, "pairing")
    plateau = raw.get("plateau") or {}
    if not isinstance(plateau, Mapping) or any(not isinstance(v, (int, float)) or v <= 0 for v in plateau.values()):
        raise _fail(where, f"plateau maps metrics to positive slope thresholds (per 1000 steps); got {plateau!r}")
    if set(plateau) - set(metrics):
        raise _fail(where, f"plateau names {sorted(set(plateau) - set(metrics))}, not among metrics {list(metrics)}")
    comparison = _comparison(raw["comparison"], where)
    if comparison.type == "trend" and log_scale:
        raise _fail(where, "log_scale is for differences; regress a trend on the metric itself")
    return Claim(
        **{key: str(raw[key]) for key in ("id", "sentence", "source", "family", "budget")},
        metrics=metrics,
        comparison=comparison,
        expect=raw["expect"],
        smallest_effect=effect,
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
    ids = [claim.id for claim in claims]
    twice = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if twice is not None:
        raise _fail(preset, f"claim id {twice!r} is used twice; ids must be unique")
    return claims


def last_k(ablation: Mapping[str, Any] | None) -> int:
    """``ablation.score_last_k`` (a run's score is the mean of its last k validations)."""
    value = (ablation or {}).get("score_last_k", DEFAULT_LAST_K)
    if not isinstance(value, int) or isinstance(value, bool) or value < 2:
        raise ClaimError(f"ablation.score_last_k must be an integer >= 2 (a slope needs two points), got {value!r}")
    return value


def across_tasks(ablation: Mapping[str, Any] | None) -> dict[str, str] | None:
    """``ablation.across_tasks`` (task: a config key, metric, nothing: the metric of doing nothing), or None."""
    spec = (ablation or {}).get("across_tasks")
    if spec is None:
        return None
    if not isinstance(spec, Mapping) or any(not isinstance(spec.get(k), str) for k in ACROSS_TASKS_KEYS):
        keys = "task (e.g. data.known_answer), metric (e.g. val/psnr), nothing (e.g. val/psnr_identity_baseline)"
        raise ClaimError(f"ablation.across_tasks needs {keys}; got {spec!r}")
    return {k: str(spec[k]) for k in ACROSS_TASKS_KEYS}


def matches(settings: Mapping[str, Any], selector: Mapping[str, tuple]) -> bool:
    """Whether a run's flat settings satisfy a selector, values compared by :func:`setting_text`."""
    return all(setting_text(settings.get(key)) in {setting_text(v) for v in values} for key, values in selector.items())


def setting_text(value: Any) -> str:
    """One spelling per value (``True`` = ``true``, ``2.0`` = ``2``, NaN = ``null``): pandas turns an int column
    with a missing cell into floats, and a CSV round trip may do the same."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower()
