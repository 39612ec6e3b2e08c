"""Checks and fill-ins of a composed training config before anything is written: a config that would fail late or
measure something else than it says is refused with a :class:`ConfigError` naming the fix."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, open_dict

from stylenorm.nn.norm import BATCH_STATISTICS_KINDS, PER_PROCESS_BATCH_KINDS, STYLE_CONDITIONED_KINDS

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A config, path or checkpoint the run refuses; its message says what to change."""


#: The data module each model trains on, and the config that gives it (embedded_<model> does too).
_DATA_OF_MODEL = {
    "cyclegan": ("UnpairedDataModule", "data=unpaired data.root=DIR"),
    "style": ("StyleDataModule", "data=content_style data.root=DIR data.style_image=FILE"),
    "autoencoder": ("ImageFolderDataModule", "data=image_folder data.root=DIR"),
    "adain": ("ContentStylesDataModule", "data=content_styles data.root=DIR data.style_root=DIR"),
}
_PLAIN_DDP = ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")


def fill_num_styles(cfg: DictConfig) -> None:
    """Conditional instance norm gets one gamma/beta row per style of the data; several styles need one."""
    if cfg.model.get("name") != "style":
        return  # the network factory refuses conditional norms on the other models
    images = cfg.data.get("style_images")
    count = int(cfg.data.get("num_styles") or 1) if images is None else (1 if isinstance(images, str) else len(images))
    if cfg.norm.kind in STYLE_CONDITIONED_KINDS:
        if cfg.norm.get("num_styles") not in (None, count):
            raise ConfigError(
                f"norm.num_styles={cfg.norm.num_styles} but the data hold {count} style(s) (data.style_images / "
                f"data.num_styles). Drop norm.num_styles: it is filled from the data."
            )
        with open_dict(cfg):
            cfg.norm.num_styles = count
    elif count > 1:
        raise ConfigError(
            f"The data hold {count} styles, but norm={cfg.norm.kind} learns one style per network. Add "
            f"norm=conditional_instance, or train one style with data.style_image=FILE."
        )


def check_distributed_norm(cfg: DictConfig) -> None:
    """SyncBatchNorm is GPU-only in torch's DDP: on CPU batch norm stays per process, ``norm=sync_batch`` is refused."""
    multi_process = cfg.trainer.get("strategy") not in (None, "auto") or cfg.trainer.get("devices") not in (1, "1")
    if multi_process and cfg.norm.kind in PER_PROCESS_BATCH_KINDS:
        log.warning(
            "norm=%s under DDP: its batch statistics stay per process (sync_batchnorm converts plain batch norm only).",
            cfg.norm.kind,
        )
    accelerator = cfg.trainer.get("accelerator", "auto")
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if not (on_cpu and multi_process):
        return
    if cfg.norm.kind == "sync_batch":
        raise ConfigError(
            "norm=sync_batch needs GPUs: torch's DDP refuses SyncBatchNorm on CPU. Use norm=batch "
            "(per-process statistics) for CPU runs, or trainer.accelerator=gpu."
        )
    if cfg.trainer.get("sync_batchnorm"):
        log.warning("trainer.sync_batchnorm=true is ignored on CPU: batch norm statistics stay per process.")
        with open_dict(cfg):
            cfg.trainer.sync_batchnorm = False


def check_image_size_fits(datamodule: Any, model: torch.nn.Module, cfg: DictConfig) -> None:
    """Refuse a crop size the networks cannot take, naming the nearest sizes that work."""
    size = getattr(datamodule, "image_size", None)
    if size is None:
        return
    for name, network in model.named_children():
        multiple, smallest = getattr(network, "size_multiple", 1), getattr(network, "min_size", 1)
        if size % multiple or size < smallest:
            fits = {max(smallest, size // multiple * multiple), max(smallest, -(-size // multiple) * multiple)}
            raise ConfigError(
                f"data.image_size={size} does not fit model={cfg.model.name}: its {type(network).__name__} ({name}) "
                f"takes sizes that are multiples of {multiple} and at least {smallest} px. Use "
                + " or ".join(f"data.image_size={s}" for s in sorted(fits))
                + "."
            )


def strategy_for_model(model_name: str | None, strategy: str | None) -> str | None:
    """CycleGAN's G and D steps each leave parameters unused, so its plain DDP strategies find them."""
    if model_name == "cyclegan" and strategy in _PLAIN_DDP:
        return f"{strategy}_find_unused_parameters_true"
    return strategy


def skip_reason(cfg: DictConfig) -> str | None:
    """Why a grid point of a sweep is not a run of its own (then it is listed as skipped), else None."""
    if cfg.norm.kind == "none" and cfg.norm.get("affine") is True:
        return "norm=none with norm.affine=true: no norm layers, so it is the affine=false run"
    return None


def check_and_fill(cfg: DictConfig) -> None:
    """Every check that needs no data or network, in the order a user would fix them."""
    expected = _DATA_OF_MODEL.get(cfg.model.name)
    built = str(cfg.data.get("_target_", "")).rsplit(".", 1)[-1]
    if expected is not None and built != expected[0]:  # it would fail late with a KeyError
        raise ConfigError(
            f"model={cfg.model.name} trains on {expected[0]} data, but the data config builds {built or 'nothing'}. "
            f"Use {expected[1]}, or data=embedded_{cfg.model.name} (the default) for the embedded offline data."
        )
    fill_num_styles(cfg)
    check_distributed_norm(cfg)
    if cfg.norm.kind in BATCH_STATISTICS_KINDS and cfg.data.get("batch_size") == 1:
        log.warning(
            "norm=%s with data.batch_size=1: training normalises each image by its own statistics, eval mode by "
            "running ones (val/bn_train_eval_gap). Use a larger batch or norm=instance/group, unless that is wanted.",
            cfg.norm.kind,
        )
    for key in ("ckpt_path", "init_from"):
        if cfg.get(key) and not Path(cfg[key]).is_file():
            raise ConfigError(
                f"{key}={cfg[key]} does not exist. Checkpoints are in checkpoints/<run folder>/ (ls -R checkpoints)."
            )
    if cfg.ckpt_path and cfg.get("init_from"):
        raise ConfigError(
            "ckpt_path (continue a run) and init_from (a new run from a checkpoint's weights) are both set. Choose one."
        )
    strategy = strategy_for_model(cfg.model.get("name"), cfg.trainer.get("strategy"))
    if strategy != cfg.trainer.get("strategy"):
        with open_dict(cfg):
            cfg.trainer.strategy = strategy
