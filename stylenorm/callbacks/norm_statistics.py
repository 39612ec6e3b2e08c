"""Watch the norm layers work: every ``every_n_steps`` steps, the statistics each norm kind normalises (Wu & He 2018,
Fig. 2) before and after the selected norm layers, for one training forward pass, under ``norm_stats/...``, and what
the learned norms chose under ``norm_mix/...``. Tags: docs/modules.md; switching it on and off: docs/training.md.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn

from stylenorm.nn.norm import has_learned_mixture, is_norm_layer

log = logging.getLogger(__name__)

TAG_ROOT = "norm_stats"
MIX_TAG_ROOT = "norm_mix"
LAYER_CHOICES = ("first_last", "all")


def activation_statistics(x: Tensor, num_groups: int | None = None) -> dict[str, float]:
    """Mean/std of an ``(N, C, H, W)`` activation (``mean``, ``std``) and ``{instance,channel,sample,group}_{abs_mean,
    std}`` over the sets each norm kind normalises (group: with ``num_groups``), in float32 whatever the dtype."""
    return {k: v.item() for k, v in _statistics_tensors(x, num_groups)[0].items()}


def _statistics_tensors(x: Tensor, num_groups: int | None = None) -> tuple[dict[str, Tensor], tuple[Tensor, Tensor]]:
    """:func:`activation_statistics` as tensors, and the per-channel means and stds (for histograms)."""
    if x.dim() != 4:
        raise ValueError(f"activation_statistics expects an (N, C, H, W) tensor, got shape {tuple(x.shape)}.")
    n, c, h, w = x.shape
    if num_groups is not None and c % num_groups:
        raise ValueError(f"num_groups={num_groups} does not divide the {c} channels.")
    # No autocast: under bf16-mixed a reduction could otherwise run in bf16 again.
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        x = x.detach().float()
        std, mean = torch.std_mean(x, unbiased=False)
        stats = {"mean": mean, "std": std}
        sets = {"instance": (x, (2, 3)), "channel": (x, (0, 2, 3)), "sample": (x, (1, 2, 3))}
        if num_groups is not None:
            sets["group"] = (x.reshape(n, num_groups, (c // num_groups) * h * w), (2,))
        for prefix, (values, dims) in sets.items():
            std, mean = torch.std_mean(values, dim=dims, unbiased=False)
            stats[f"{prefix}_abs_mean"], stats[f"{prefix}_std"] = mean.abs().mean(), std.mean()
            if prefix == "channel":
                channels = (mean, std)
    return stats, channels


def select_layers(norm_layers: list[tuple[str, nn.Module]], layers: str | int) -> list[tuple[str, nn.Module]]:
    """The norm layers to watch: ``all``, ``first_last``, or an int k (every k-th from the first, plus the last)."""
    if layers == "all":
        return norm_layers
    if layers == "first_last":
        return norm_layers[:1] + norm_layers[1:][-1:]
    chosen = norm_layers[::layers]
    return [*chosen, norm_layers[-1]] if norm_layers and chosen[-1] is not norm_layers[-1] else chosen


class NormStatistics(Callback):
    """Instrument the first training batch of every ``every_n_steps`` block, each layer at its first call; ``layers``
    per network as :func:`select_layers` takes; ``histograms``: per-channel means and stds too."""

    def __init__(self, every_n_steps: int = 50, layers: str | int = "first_last", histograms: bool = True):
        super().__init__()
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"callbacks.norm_statistics.every_n_steps must be a positive int, got {every_n_steps!r}.")
        int_layers = isinstance(layers, int) and not isinstance(layers, bool)
        if not (layers in LAYER_CHOICES or (int_layers and layers >= 1)):
            raise ValueError(
                f"callbacks.norm_statistics.layers must be one of {', '.join(LAYER_CHOICES)} or a positive int "
                f"(every k-th norm layer), got {layers!r}."
            )
        self.every_n_steps, self.layers, self.histograms = every_n_steps, layers, histograms
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._records: dict[str, dict[str, Any]] = {}
        self._mixtures: dict[str, Tensor] = {}
        self._step: int | None = None
        self._last_block = -1  # index of the last every_n_steps block that was instrumented

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        # Rank zero only. "The first batch of each block", not step % N == 0: a CycleGAN batch advances the step by 2.
        block = trainer.global_step // self.every_n_steps
        if not trainer.is_global_zero or block == self._last_block or not trainer.loggers:
            return
        self._last_block = block
        self._step = trainer.global_step
        self._records, self._mixtures = {}, {}
        for network_name, network in pl_module.named_children():
            norm_layers = [(f"{network_name}/{path}", m) for path, m in network.named_modules() if is_norm_layer(m)]
            for name, module in select_layers(norm_layers, self.layers):
                record = functools.partial(self._record, name, getattr(module, "num_groups", None))  # group, layer
                self._handles.append(module.register_forward_hook(record))
            for path, module in network.named_modules():
                if has_learned_mixture(module):  # batch-instance, switchable: per-channel or per-statistic values
                    for key, value in module.learned_mixture().items():
                        self._mixtures[f"{MIX_TAG_ROOT}/{network_name}/{path}/{key}"] = value
        if not self._handles and block == 0:
            log.info("NormStatistics: the model has no norm layers (norm=none?); nothing to log.")

    def _record(self, name: str, num_groups: int | None, module: nn.Module, inputs: tuple[Tensor], output: Tensor):
        if name not in self._records:  # else a later call in the same step (CycleGAN's cycle, identity)
            before, after = _statistics_tensors(inputs[0], num_groups), _statistics_tensors(output, num_groups)
            self._records[name] = {"before": before, "after": after}

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        mixtures, self._mixtures = self._mixtures, {}
        if not self._handles and not mixtures:
            return
        self._remove_hooks()
        tensors: dict[str, Tensor] = {tag: value.mean() for tag, value in mixtures.items()}
        whole = {"before": "input", "after": "output"}  # the whole tensor's mean and std: input_mean, output_std, ...
        for name, record in self._records.items():
            for side, (stats, _) in record.items():
                for key, value in stats.items():
                    suffix = f"{whole[side]}_{key}" if key in ("mean", "std") else f"{side}/{key}"
                    tensors[f"{TAG_ROOT}/{name}/{suffix}"] = value
        # One device-to-host copy for all scalars rather than one sync per value.
        values = torch.stack(list(tensors.values())).cpu().tolist() if tensors else []
        metrics = dict(zip(tensors, values, strict=True))
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=self._step)
            if self.histograms and isinstance(logger, TensorBoardLogger):
                for tag, value in mixtures.items():
                    if value.numel() > 1 and tag.endswith("/rho"):
                        logger.experiment.add_histogram(f"{tag}_channels", value.cpu(), self._step)
                for name, record in self._records.items():
                    for side, (_, (means, stds)) in record.items():
                        tag = f"{TAG_ROOT}/{name}/{side}"
                        logger.experiment.add_histogram(f"{tag}/channel_means", means.cpu(), self._step)
                        logger.experiment.add_histogram(f"{tag}/channel_stds", stds.cpu(), self._step)
        self._records = {}

    def _remove_hooks(self, *hook_arguments: Any, **stage: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # A step that raises never reaches on_train_batch_end: the hooks must not outlive the fit.
    on_exception = teardown = _remove_hooks
