"""The one place where normalization is decided (Wu & He 2018, Fig. 2): networks ask a :class:`NormSpec` for their norm
layers, and the facts about the kinds live here. A new kind: one :data:`_BUILDERS` entry and one ``configs/norm/`` yaml.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from stylenorm.nn.conditional_instance_norm import ConditionalInstanceNorm2d
from stylenorm.nn.learned_norms import BatchInstanceNorm2d, SwitchableNorm2d

#: The group counts tried, in order, by ``num_groups: auto`` (32 is Wu & He's default; fewer for narrow layers).
AUTO_GROUP_CANDIDATES = (32, 16, 8, 4, 2, 1)

#: Kinds whose per-channel mean subtraction makes a conv bias in front of them redundant (:attr:`NormSpec.conv_bias`).
_BIAS_ABSORBING_KINDS = frozenset({"batch", "sync_batch", "batch_instance"})


def auto_num_groups(num_channels: int) -> int:
    """First of 32, 16, 8, 4, 2, 1 that divides ``num_channels`` (e.g. 24 -> 8, 48 -> 16)."""
    return next(g for g in AUTO_GROUP_CANDIDATES if num_channels % g == 0)


@dataclasses.dataclass(frozen=True)
class NormSpec:
    """A norm choice, ``spec(num_channels, name=...) -> nn.Module``; fields: ``configs/norm/*.yaml`` (docs/norms.md)."""

    kind: str = "instance"
    affine: bool | None = None
    track_running_stats: bool | None = None
    num_groups: int | str = "auto"
    channels_per_group: int | None = None
    eps: float = 1e-5
    momentum: float = 0.1
    num_styles: int = 1

    def __post_init__(self) -> None:
        if self.kind not in _BUILDERS:
            raise ValueError(
                f"Unknown norm kind {self.kind!r}; expected one of {', '.join(NORM_KINDS)} "
                f"(configs/norm/<kind>.yaml, e.g. `norm=group`)."
            )
        if self.num_groups != "auto" and not _positive_int(self.num_groups):
            raise ValueError(f"norm.num_groups must be a positive int or 'auto', got {self.num_groups!r}.")
        if self.channels_per_group is not None and not _positive_int(self.channels_per_group):
            raise ValueError(
                f"norm.channels_per_group must be a positive int or null, got {self.channels_per_group!r}."
            )
        if self.channels_per_group is not None and self.num_groups != "auto":
            raise ValueError(
                f"norm.num_groups={self.num_groups} and norm.channels_per_group={self.channels_per_group} both "
                f"fix the groups; set one of them (the other to auto / null)."
            )
        for key in ("affine", "track_running_stats"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"norm.{key} must be true, false or null, got {value!r}.")
        if self.eps <= 0:
            raise ValueError(f"norm.eps must be > 0, got {self.eps!r}.")
        if not _positive_int(self.num_styles):
            raise ValueError(f"norm.num_styles must be a positive int, got {self.num_styles!r}.")

    @classmethod
    def from_config(cls, config: NormSpec | str | Mapping[str, Any] | None) -> NormSpec:
        """Build from a ``configs/norm`` mapping (or a DictConfig), a kind name, or a spec."""
        if config is None or isinstance(config, str):
            return cls() if config is None else cls(kind=config)
        if isinstance(config, NormSpec):
            return config
        if not isinstance(config, Mapping):  # omegaconf's DictConfig is a Mapping
            raise TypeError(f"A norm config must be a mapping or a kind name, got {type(config).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(
                f"Unknown norm config key(s) {unknown}; expected some of {sorted(known)} (see configs/norm/*.yaml)."
            )
        values = dict(config.items())
        if isinstance(values.get("eps"), str):  # YAML reads '1e-5' (no dot) as a string
            values["eps"] = float(values["eps"])
        if "num_styles" in values and values["num_styles"] is None:  # null = from the data (train.py fills it)
            del values["num_styles"]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for hyperparameters; ``num_styles`` and ``channels_per_group`` only where they apply."""
        values = dataclasses.asdict(self)
        if self.kind != "conditional_instance":
            values.pop("num_styles")
        if self.channels_per_group is None:
            values.pop("channels_per_group")
        return values

    def with_default_affine(self, default: bool) -> NormSpec:
        """Resolve ``affine=None`` to a network's published default; explicit values win."""
        return self if self.affine is not None else dataclasses.replace(self, affine=default)

    @property
    def conv_bias(self) -> bool:
        """Whether a conv feeding this norm keeps its bias: not before batch norm (the CycleGAN code's rule)."""
        return self.kind not in _BIAS_ABSORBING_KINDS

    def conv_bias_or(self, override: bool | None) -> bool:
        """``override`` (a network's ``conv_bias`` option) when set, else :attr:`conv_bias`."""
        return self.conv_bias if override is None else override

    def __call__(self, num_channels: int, name: str = "norm") -> nn.Module:
        """Build the norm layer for ``num_channels`` channels; ``name`` appears in errors."""
        if self.affine is None:
            raise ValueError(
                f"{name}: norm.affine is unresolved (null). Networks call NormSpec.with_default_affine(...) first; "
                "set norm.affine=true|false to choose."
            )
        return _BUILDERS[self.kind](self, num_channels, name)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _with_running_stats(cls: type[nn.Module], track_by_default: bool) -> Callable[[NormSpec, int, str], nn.Module]:
    """Builder of a layer with torch's batch-norm arguments; ``track_running_stats: null`` -> ``track_by_default``."""

    def build(spec: NormSpec, channels: int, name: str) -> nn.Module:
        track = track_by_default if spec.track_running_stats is None else spec.track_running_stats
        return cls(channels, eps=spec.eps, momentum=spec.momentum, affine=spec.affine, track_running_stats=track)

    return build


def _group(spec: NormSpec, channels: int, name: str) -> nn.Module:
    if spec.channels_per_group is not None:
        if channels % spec.channels_per_group:
            raise ValueError(
                f"{name}: norm.channels_per_group={spec.channels_per_group} does not divide its {channels} channels. "
                f"Use a divisor of every layer's channel count, or widths that are multiples of it."
            )
        return nn.GroupNorm(channels // spec.channels_per_group, channels, eps=spec.eps, affine=spec.affine)
    groups = auto_num_groups(channels) if spec.num_groups == "auto" else spec.num_groups
    if channels % groups:
        options = [g for g in AUTO_GROUP_CANDIDATES if channels % g == 0]
        raise ValueError(
            f"{name}: norm.num_groups={groups} does not divide its {channels} channels. "
            f"Use a divisor of every layer's channel count (here e.g. {options}) or norm.num_groups=auto."
        )
    return nn.GroupNorm(groups, channels, eps=spec.eps, affine=spec.affine)


def _conditional_instance(spec: NormSpec, channels: int, name: str) -> nn.Module:
    if not spec.affine:
        raise ValueError(f"{name}: norm=conditional_instance is its per-style affine table; use norm.affine=true.")
    if spec.track_running_stats:
        raise ValueError(f"{name}: norm=conditional_instance keeps no running statistics; leave track_running_stats.")
    return ConditionalInstanceNorm2d(channels, spec.num_styles, eps=spec.eps)


_BUILDERS: dict[str, Callable[[NormSpec, int, str], nn.Module]] = {
    "instance": _with_running_stats(nn.InstanceNorm2d, track_by_default=False),
    "batch": _with_running_stats(nn.BatchNorm2d, track_by_default=True),
    "sync_batch": _with_running_stats(nn.SyncBatchNorm, track_by_default=True),
    "group": _group,
    "layer": lambda spec, channels, name: nn.GroupNorm(1, channels, eps=spec.eps, affine=spec.affine),
    "batch_instance": _with_running_stats(BatchInstanceNorm2d, track_by_default=True),
    "switchable": _with_running_stats(SwitchableNorm2d, track_by_default=True),
    "conditional_instance": _conditional_instance,
    "none": lambda spec, channels, name: nn.Identity(),
}

#: Every norm kind a config may name.
NORM_KINDS = tuple(_BUILDERS)

#: Kinds that need a style index per sample, so only the style task (TransformerNet) can use them.
STYLE_CONDITIONED_KINDS = frozenset({"conditional_instance"})

#: Kinds that normalise with batch statistics in training (and running statistics in eval).
BATCH_STATISTICS_KINDS = frozenset({"batch", "sync_batch", "batch_instance", "switchable"})
#: Of those, the kinds whose batch statistics stay per process under DDP (Lightning's sync_batchnorm skips them).
PER_PROCESS_BATCH_KINDS = frozenset({"batch_instance", "switchable"})

#: The module types the factory produces, for code that finds norm layers without naming classes.
LEARNED_MIXTURE_TYPES = (BatchInstanceNorm2d, SwitchableNorm2d)
_TORCH_NORM_TYPES = (nn.InstanceNorm2d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.GroupNorm)
NORM_LAYER_TYPES = (*_TORCH_NORM_TYPES, *LEARNED_MIXTURE_TYPES, ConditionalInstanceNorm2d)


def is_norm_layer(module: nn.Module) -> bool:
    """True for every layer this factory builds except ``Identity`` (``none``)."""
    return isinstance(module, NORM_LAYER_TYPES)


def has_learned_mixture(module: nn.Module) -> bool:
    """True for layers that learn which statistics to use; their ``learned_mixture()`` names the weights."""
    return isinstance(module, LEARNED_MIXTURE_TYPES)


def uses_running_statistics(module: nn.Module) -> bool:
    """True for norm layers that normalise with stored running statistics in eval mode."""
    return is_norm_layer(module) and bool(getattr(module, "track_running_stats", False))


def per_sample_groups(module: nn.Module) -> int | None:
    """Statistics per sample of a layer that takes them from the sample itself (group/instance norm), else ``None``."""
    if isinstance(module, nn.GroupNorm):
        return module.num_groups
    if isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats:
        return module.num_features
    return None
