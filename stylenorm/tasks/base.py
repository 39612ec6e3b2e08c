"""What the four LightningModules share: speed switches, checkpoint hooks, image grids and the HPARAMS-tab record."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from tensorboard.plugins.hparams import summary_v2 as hp  # `api` re-exports it, but imports TensorFlow
from torchvision.utils import make_grid

from stylenorm.networks import build_networks
from stylenorm.nn.norm import NormSpec, has_learned_mixture, is_norm_layer
from stylenorm.speed import AUTO, SpeedOptions, adam, compile_pays, to_channels_last

log = logging.getLogger(__name__)

#: Where a checkpoint keeps its run's settings (flat ``{"model.lr": 0.001, ...}``), checked on resume.
SETTINGS_KEY = "stylenorm_settings"


def flatten(tree: Any, prefix: str = "", sep: str = "/") -> dict[str, Any]:
    """``{"norm": {"kind": "group"}}`` -> ``{"norm/kind": "group"}``; tuples become lists."""
    if isinstance(tree, Mapping):
        return {k: v for key, item in tree.items() for k, v in flatten(item, f"{prefix}{key}{sep}", sep).items()}
    return {prefix[: -len(sep)]: list(tree) if isinstance(tree, tuple) else tree}


def tab_safe(flat: Mapping[str, Any]) -> dict[str, Any]:
    """TensorBoard's HPARAMS tab takes scalars and strings only: None, lists and tuples become strings."""
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flat.items()}


#: Columns every run shows in the tab, whatever its command line set.
IDENTITY_HPARAMS = ("model", "norm/kind", "norm/affine")


def tab_hparams(params: Mapping[str, Any], varied: Collection[str] = ()) -> dict[str, bool | int | float | str]:
    """The entries of ``params`` the tab shows: :data:`IDENTITY_HPARAMS` and the ``varied`` ones it holds."""
    return {name: value for name, value in params.items() if name in IDENTITY_HPARAMS or name in varied}


@rank_zero_only  # other DDP ranks have no event writer (Lightning's own log_hyperparams is rank-0 only too)
def log_hparams(
    logger: TensorBoardLogger, params: Mapping[str, Any], metric_tags: Sequence[str], varied: Collection[str] = ()
) -> None:
    """``params`` into hparams.yaml; its :func:`tab_hparams` and ``metric_tags`` as columns of the HPARAMS tab."""
    logger.log_hyperparams(dict(params), metrics={})  # hparams.yaml only: an empty dict writes no events
    shown = tab_hparams(params, varied)
    # Booleans get a boolean domain; other columns none, so the first run's values do not restrict the filters.
    columns = [hp.HParam(k, hp.Discrete([False, True]) if isinstance(v, bool) else None) for k, v in shown.items()]
    config = hp.hparams_config_pb(hparams=columns, metrics=[hp.Metric(tag) for tag in metric_tags])
    # trial_id: the run folder's last two names, so two runs sharing the shown values are never merged into one row
    session = hp.hparams_pb(shown, trial_id="/".join(Path(logger.log_dir).parts[-2:]))
    writer = logger.experiment.file_writer
    writer.add_summary(config)
    writer.add_summary(session)
    writer.flush()


class ImageTranslationTask(LightningModule):
    """Base class: subclasses set the class attributes below and call :meth:`collect_for_image_grid`."""

    #: Validation scalars shown next to the hyperparameters in TensorBoard's HPARAMS tab.
    hparam_metrics: tuple[str, ...] = ()
    #: The network whose norm describes the run; also the one compiled unless :attr:`compiled_module_names` says.
    main_network_name: str = ""
    compiled_module_names: tuple[str, ...] = ()
    #: How far one training batch advances ``trainer.global_step`` (CycleGAN: 2), so reports can count images seen.
    optimizer_steps_per_batch: int = 1
    #: State-dict prefixes left out of checkpoints on purpose (rebuilt at start-up, e.g. a frozen VGG).
    checkpoint_excluded_prefixes: tuple[str, ...] = ()
    #: Whether the networks were compiled (``speed.compile``, ``auto`` resolved), for the HPARAMS tab.
    compiled: bool = False
    #: ``global_step`` of the last full validation (not the sanity check); -1 before the first.
    last_validated_step: int = -1

    def __init__(
        self,
        norm: Mapping[str, Any] | None = None,
        conv: Mapping[str, Any] | None = None,
        speed: SpeedOptions | Mapping[str, Any] | None = None,
        val_grid_images: int = 4,
    ):
        """The arguments every task takes (subclasses pass them on as ``**common``); with the subclass's own (Lightning
        collects both) they are the hyperparameters that build the networks."""
        super().__init__()
        self.speed = SpeedOptions.from_config(speed)
        self.save_hyperparameters(logger=False)
        for role, network in build_networks(self.hparams).items():
            setattr(self, role, network)
        self._speed_applied = False
        #: Set by :func:`stylenorm.train.build`: the run's record, its overridden HPARAMS, what a resume must match.
        self.run_record: dict[str, Any] = {}
        self.varied_hparams: set[str] = set()
        self.settings: dict[str, Any] = {}
        #: Where frozen pretrained weights came from ("random" must be visible in the HPARAMS tab).
        self.weights_sources: dict[str, str] = {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        excluded = self.checkpoint_excluded_prefixes
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith(excluded)}
        if self.settings:
            checkpoint[SETTINGS_KEY] = self.settings

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Loading stays strict: the excluded modules get their rebuilt values, so any other missing key is an error.
        for key, value in self.state_dict().items():
            if key.startswith(self.checkpoint_excluded_prefixes):
                checkpoint["state_dict"].setdefault(key, value)

    def configure_model(self) -> None:
        """Apply the speed switches once, in a Trainer, before the optimizers; compiling in place keeps the names."""
        if self._speed_applied or self._trainer is None:
            return
        self._speed_applied = True
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.speed.compile == AUTO:
            datamodule = getattr(self.trainer, "datamodule", None)
            steps = self.trainer.estimated_stepping_batches  # max_steps, or max_epochs x batches per epoch
            sizes = getattr(datamodule, "batch_size", 1), getattr(datamodule, "image_size", 256)
            self.compiled, reason = compile_pays(steps, *sizes)
            log.info(
                "speed.compile=auto: %s (%s).", "compiling the networks" if self.compiled else "running eager", reason
            )
        else:
            self.compiled = bool(self.speed.compile)
        if self.compiled:
            for name in self.compiled_module_names or (self.main_network_name,):
                getattr(self, name).compile(mode=self.speed.compile_mode)

    @property
    def channels_last(self) -> bool:
        return self._trainer is not None and self.speed.use_channels_last(self.trainer.strategy.root_device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return to_channels_last(batch) if self.channels_last else batch

    def adam(self, params, **options: Any) -> torch.optim.Adam:
        """Adam with this run's kernel choice (``speed.fused_adam``)."""
        return adam(params, fused=self.speed.fused_adam, **options)

    @property
    def norm_spec(self) -> NormSpec:
        """The norm actually used, with ``affine`` resolved to the network's default."""
        return getattr(self, self.main_network_name).norm_spec

    def run_summary(self) -> dict[str, Any]:
        """Hyperparameters worth comparing across runs: model, resolved norm, data and trainer."""
        summary = {"model": self.hparams.get("name", type(self).__name__), **self.run_record}
        summary.update(tab_safe(flatten(self.norm_spec.to_dict(), "norm/")))
        # What is really in the networks now - e.g. SyncBatchNorm after Lightning's DDP conversion.
        layer_types = sorted({type(m).__name__ for m in self.modules() if is_norm_layer(m)})
        summary["norm/layer_types"] = ",".join(layer_types) or "none"
        summary.update(tab_safe(flatten({k: v for k, v in self.hparams.items() if k not in ("name", "norm")})))
        datamodule = getattr(self.trainer, "datamodule", None)
        for key in ("batch_size", "image_size", "known_answer"):
            if hasattr(datamodule, key):
                value = getattr(datamodule, key)
                # TensorBoard's HPARAMS drop None values: "none" keeps the column filled (no named task)
                summary[f"data/{key}"] = "none" if value is None else value
        summary["trainer/precision"] = str(self.trainer.precision)
        summary["trainer/world_size"] = self.trainer.world_size
        summary["trainer/optimizer_steps_per_batch"] = self.optimizer_steps_per_batch
        summary["speed/compiled"] = self.compiled
        return {**summary, **self.weights_sources}

    def on_train_start(self) -> None:
        # Found once: the walk over every module would otherwise run on each training batch.
        self._projected_layers = [m for m in self.modules() if has_learned_mixture(m) and hasattr(m, "project_")]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Batch-instance norm's gate stays in [0, 1] (Nam & Kim 2018), clipped after all the batch's optimizer steps.
        for module in self._projected_layers:
            module.project_()

    def on_fit_start(self) -> None:
        # Not save_hyperparameters(logger=True): the tab gets the resolved norm, data sizes and metrics in one record.
        for logger in self.loggers:
            if isinstance(logger, TensorBoardLogger):
                log_hparams(logger, self.run_summary(), self.hparam_metrics, self.varied_hparams)
            else:
                logger.log_hyperparams(self.run_summary())

    def log_val(self, values: Mapping[str, Any], n: int) -> None:
        """Log each of ``values`` as ``val/<name>``, averaged over the epoch and the processes."""
        self.log_dict({f"val/{k}": v for k, v in values.items()}, batch_size=n, sync_dist=True)

    def log_metric(self, name: str, prediction: torch.Tensor, target: torch.Tensor, n: int) -> None:
        """Update the torchmetrics module ``name`` and log it as ``val/<name>`` (it reduces itself)."""
        getattr(self, name)(prediction, target)
        self.log(f"val/{name}", getattr(self, name), batch_size=n)

    def log_train_losses(self, losses: dict[str, torch.Tensor], n: int) -> torch.Tensor:
        """Log ``train/<term>`` for each term and ``train/loss`` for ``losses["total"]``, which is returned."""
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items() if k != "total"}, batch_size=n)
        self.log("train/loss", losses["total"], prog_bar=True, batch_size=n)
        return losses["total"]

    def collect_for_image_grid(self, tag: str, rows: Sequence[torch.Tensor]) -> None:
        """Gather the first ``hparams.val_grid_images`` images of each row (the same ones at every validation)."""
        buffer = self.__dict__.setdefault("_grid_buffers", {}).setdefault(tag, [])
        missing = self.hparams.val_grid_images - sum(chunk[0].shape[0] for chunk in buffer)
        if missing > 0:
            buffer.append([row[:missing].detach().float().cpu() for row in rows])

    def on_validation_epoch_end(self) -> None:
        if self._trainer is not None and not self.trainer.sanity_checking:
            self.last_validated_step = self.global_step
        for tag, chunks in self.__dict__.pop("_grid_buffers", {}).items():
            self.log_image_grid(tag, [torch.cat(parts) for parts in zip(*chunks, strict=True)])

    def log_image_grid(self, tag: str, rows: Sequence[torch.Tensor]) -> None:
        """One TensorBoard image: each tensor of ``rows`` (N, 3, H, W) in [0, 1] is one row."""
        images = torch.cat([row.detach().float().clamp(0, 1).cpu() for row in rows])
        grid = make_grid(images, nrow=rows[0].shape[0], padding=2, pad_value=1.0)
        for logger in self.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(tag, grid, self.global_step)
