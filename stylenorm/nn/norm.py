"""The one place where normalization is decided (Wu & He 2018, Fig. 2, for the statistics of each kind).

Every network asks a :class:`NormSpec` for its norm layers (``spec(num_channels, name=...)``); no
network names a torch norm class. Adding a kind is one entry in :data:`_BUILDERS` plus one yaml
file in ``configs/norm/``. Facts about kinds live here too (:data:`BATCH_STATISTICS_KINDS`,
:data:`STYLE_CONDITIONED_KINDS`, :func:`uses_running_statistics`, ...). The table of kinds, and
why ``layer`` is ``GroupNorm(1, C)``: docs/modules.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from stylenorm.nn.batch_instance_norm import BatchInstanceNorm2d
from stylenorm.nn.conditional_instance_norm import ConditionalInstanceNorm2d
from stylenorm.nn.switchable_norm import SwitchableNorm2d

#: The group counts tried, in order, by ``num_groups: auto`` (the rule of the GroupNorm notebook:
#: 32 groups is Wu & He's default, smaller counts for narrow layers).
AUTO_GROUP_CANDIDATES = (32, 16, 8, 4, 2, 1)

#: Norm kinds whose layers subtract a per-channel mean, which makes a conv bias in front of them
#: redundant; see :func:`NormSpec.conv_bias`. (Batch-instance norm's BN and IN parts both do.)
_BIAS_ABSORBING_KINDS = frozenset({"batch", "sync_batch", "batch_instance"})


def auto_num_groups(num_channels: int) -> int:
    """First of 32, 16, 8, 4, 2, 1 that divides ``num_channels`` (e.g. 24 -> 8, 48 -> 16)."""
    return next(g for g in AUTO_GROUP_CANDIDATES if num_channels % g == 0)


@dataclasses.dataclass(frozen=True)
class NormSpec:
    """A normalization choice, callable as ``spec(num_channels, name=...) -> nn.Module``.

    Attributes mirror the keys of ``configs/norm/*.yaml``:
        kind: one of :data:`NORM_KINDS`.
        affine: learnable per-channel scale and shift. ``None`` means "the network's published
            default" (TransformerNet: on, CycleGAN: off, autoencoder: on); networks resolve it with
            :meth:`with_default_affine` before building layers.
        track_running_stats: keep running mean/var for eval mode. ``None`` means the torch default
            of the kind (batch norm: on, instance norm: off).
        num_groups: group norm only; an int that divides every channel count, or ``"auto"``.
        channels_per_group: group norm only; a fixed number of channels per group (Wu & He 2018,
            Table 3: 16 per group does about as well as their default of 32 groups), so a layer of
            C channels gets C / channels_per_group groups. ``None``: ``num_groups`` decides. Set
            one of the two, not both.
        eps: added to the variance.
        momentum: running-statistics momentum (batch norm, or instance norm with running stats).
        num_styles: conditional instance norm only; rows of its per-style gamma/beta table (``null``
            in the config: train.py fills it from the data's style images; 1 when building by hand).
    """

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
        if self.num_groups != "auto" and not (
            isinstance(self.num_groups, int) and not isinstance(self.num_groups, bool) and self.num_groups > 0
        ):
            raise ValueError(f"norm.num_groups must be a positive int or 'auto', got {self.num_groups!r}.")
        if self.channels_per_group is not None:
            value = self.channels_per_group
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"norm.channels_per_group must be a positive int or null, got {value!r}.")
            if self.num_groups != "auto":
                raise ValueError(
                    f"norm.num_groups={self.num_groups} and norm.channels_per_group={value} both fix the groups; "
                    f"set one of them (the other to auto / null)."
                )
        for key in ("affine", "track_running_stats"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"norm.{key} must be true, false or null, got {value!r}.")
        if self.eps <= 0:
            raise ValueError(f"norm.eps must be > 0, got {self.eps!r}.")
        if isinstance(self.num_styles, bool) or not isinstance(self.num_styles, int) or self.num_styles < 1:
            raise ValueError(f"norm.num_styles must be a positive int, got {self.num_styles!r}.")

    @classmethod
    def from_config(cls, config: NormSpec | str | Mapping[str, Any] | None) -> NormSpec:
        """Build from a ``configs/norm`` mapping (or a DictConfig), a kind name, or a spec."""
        if config is None:
            return cls()
        if isinstance(config, NormSpec):
            return config
        if isinstance(config, str):
            return cls(kind=config)
        if not isinstance(config, Mapping):
            # omegaconf's DictConfig is a MutableMapping, so this only catches real mistakes.
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
        """Plain dict, suitable for hyperparameters and YAML.

        ``num_styles`` appears only for conditional instance norm, and ``channels_per_group`` only when
        set, so the stored settings of every other run (and the resume checks that compare them)
        stay as they were.
        """
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
        """Whether a conv that feeds this norm keeps its bias, by default.

        The rule of the CycleGAN code (Zhu et al. 2017), applied everywhere it is not overridden:
        no bias in front of batch norm, whose per-channel mean subtraction and shift replace it;
        a bias everywhere else (instance, group, layer, none). Instance norm also cancels a bias,
        but the published CycleGAN checkpoints carry one, so keeping it keeps them loadable.
        TransformerNet ignores this rule: the fast-neural-style layout has a bias on every conv.
        """
        return self.kind not in _BIAS_ABSORBING_KINDS

    def __call__(self, num_channels: int, name: str = "norm") -> nn.Module:
        """Build the norm layer for ``num_channels`` channels; ``name`` appears in errors."""
        if self.affine is None:
            raise ValueError(
                f"{name}: norm.affine is unresolved (null). Networks call "
                f"NormSpec.with_default_affine(...) first; set norm.affine=true|false to choose."
            )
        return _BUILDERS[self.kind](self, num_channels, name)


def _instance(spec: NormSpec, channels: int, name: str) -> nn.Module:
    track = bool(spec.track_running_stats)  # torch default: off
    return nn.InstanceNorm2d(
        channels, eps=spec.eps, momentum=spec.momentum, affine=spec.affine, track_running_stats=track
    )


def _batch(spec: NormSpec, channels: int, name: str) -> nn.Module:
    track = True if spec.track_running_stats is None else spec.track_running_stats
    return nn.BatchNorm2d(channels, eps=spec.eps, momentum=spec.momentum, affine=spec.affine, track_running_stats=track)


def _sync_batch(spec: NormSpec, channels: int, name: str) -> nn.Module:
    track = True if spec.track_running_stats is None else spec.track_running_stats
    return nn.SyncBatchNorm(
        channels, eps=spec.eps, momentum=spec.momentum, affine=spec.affine, track_running_stats=track
    )


def _group(spec: NormSpec, channels: int, name: str) -> nn.Module:
    if spec.channels_per_group is not None:
        per_group = spec.channels_per_group
        if channels % per_group:
            raise ValueError(
                f"{name}: norm.channels_per_group={per_group} does not divide its {channels} channels. "
                f"Use a divisor of every layer's channel count, or widths that are multiples of it."
            )
        return nn.GroupNorm(channels // per_group, channels, eps=spec.eps, affine=spec.affine)
    groups = auto_num_groups(channels) if spec.num_groups == "auto" else spec.num_groups
    if channels % groups:
        options = [g for g in AUTO_GROUP_CANDIDATES if channels % g == 0]
        raise ValueError(
            f"{name}: norm.num_groups={groups} does not divide its {channels} channels. "
            f"Use a divisor of every layer's channel count (here e.g. {options}) or norm.num_groups=auto."
        )
    return nn.GroupNorm(groups, channels, eps=spec.eps, affine=spec.affine)


def _layer(spec: NormSpec, channels: int, name: str) -> nn.Module:
    return nn.GroupNorm(1, channels, eps=spec.eps, affine=spec.affine)


def _batch_instance(spec: NormSpec, channels: int, name: str) -> nn.Module:
    track = True if spec.track_running_stats is None else spec.track_running_stats
    return BatchInstanceNorm2d(
        channels, eps=spec.eps, momentum=spec.momentum, affine=spec.affine, track_running_stats=track
    )


def _switchable(spec: NormSpec, channels: int, name: str) -> nn.Module:
    track = True if spec.track_running_stats is None else spec.track_running_stats
    return SwitchableNorm2d(
        channels, eps=spec.eps, momentum=spec.momentum, affine=spec.affine, track_running_stats=track
    )


def _conditional_instance(spec: NormSpec, channels: int, name: str) -> nn.Module:
    if not spec.affine:
        raise ValueError(
            f"{name}: norm=conditional_instance is its per-style affine table; norm.affine=false "
            f"leaves nothing to condition. Use norm=instance instead, or norm.affine=true."
        )
    if spec.track_running_stats:
        raise ValueError(
            f"{name}: norm=conditional_instance normalises each image with its own statistics (Dumoulin et al. "
            f"2017); norm.track_running_stats=true is not supported. Leave it false."
        )
    return ConditionalInstanceNorm2d(channels, spec.num_styles, eps=spec.eps)


def _none(spec: NormSpec, channels: int, name: str) -> nn.Module:
    return nn.Identity()


_BUILDERS: dict[str, Callable[[NormSpec, int, str], nn.Module]] = {
    "instance": _instance,
    "batch": _batch,
    "sync_batch": _sync_batch,
    "group": _group,
    "layer": _layer,
    "batch_instance": _batch_instance,
    "switchable": _switchable,
    "conditional_instance": _conditional_instance,
    "none": _none,
}

#: Every norm kind a config may name.
NORM_KINDS = tuple(_BUILDERS)

#: Kinds that need a style index per sample, so only the style task (TransformerNet) can use them.
STYLE_CONDITIONED_KINDS = frozenset({"conditional_instance"})

#: Kinds that normalise with batch statistics in training (and running statistics in eval).
BATCH_STATISTICS_KINDS = frozenset({"batch", "sync_batch", "batch_instance", "switchable"})

#: The module types the factory produces, for code that must find norm layers in a network
#: (statistics callbacks, tests) without naming classes itself.
NORM_LAYER_TYPES = (
    nn.InstanceNorm2d,
    nn.BatchNorm2d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    BatchInstanceNorm2d,
    SwitchableNorm2d,
    ConditionalInstanceNorm2d,
)


def is_norm_layer(module: nn.Module) -> bool:
    """True for every layer this factory builds except ``Identity`` (``none``)."""
    return isinstance(module, NORM_LAYER_TYPES)


def has_learned_mixture(module: nn.Module) -> bool:
    """True for norm layers that learn which statistics to use (batch-instance, switchable); their
    ``learned_mixture()`` returns the gate or weights as named tensors."""
    return isinstance(module, (BatchInstanceNorm2d, SwitchableNorm2d))


def uses_running_statistics(module: nn.Module) -> bool:
    """True for norm layers that normalise with batch statistics in training and with stored
    running statistics in eval mode (batch norm; the BN part of batch-instance and switchable norm;
    instance norm with track_running_stats)."""
    return is_norm_layer(module) and bool(getattr(module, "track_running_stats", False))


def per_sample_groups(module: nn.Module) -> int | None:
    """How many statistics per sample a layer normalises with, if they come from the sample itself:
    instance norm (without running statistics) one per channel, group and layer norm one per group;
    ``None`` for every other layer (batch norm uses the batch or stored statistics). Used where
    statistics must be supplied from outside, e.g. tiled inference
    (:mod:`stylenorm.inference.tile_statistics`)."""
    if isinstance(module, nn.GroupNorm):
        return module.num_groups
    if isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats:
        return module.num_features
    return None
