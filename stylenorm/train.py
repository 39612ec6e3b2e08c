"""What ``python train.py`` does with a composed config: build, name, train, report.

Order matters for the "fail early" promise: the data folders and the model (including VGG weights
for the style model) are checked before the Trainer starts, so a missing file is reported in
seconds, not after an epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
import warnings
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from stylenorm.cores import register_usable_cores_resolver, usable_cores
from stylenorm.nn.norm import STYLE_CONDITIONED_KINDS, NormSpec
from stylenorm.resume import check_resume, load_initial_weights, measured_settings
from stylenorm.run_naming import choose_version, name_from_checkpoint, published_version, run_name
from stylenorm.run_record import final_status, run_record, varied_hparams, write_result
from stylenorm.speed import quiet_compiler_notes, resolve_training_precision, threads_per_run

log = logging.getLogger(__name__)
register_usable_cores_resolver()  # for the launcher config read in a parallel sweep's workers


def _task_overrides() -> list[str]:
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:  # composed outside a Hydra app (tests, notebooks): no command line
        return []


#: Exit statuses of a run stopped by a signal, as shells report them (128 + signal number), so that
#: SLURM and wrapper scripts never read a preempted or interrupted run as finished.
EXIT_SIGTERM = 143
EXIT_SIGINT = 130


def resume_command(cfg: DictConfig) -> str:
    """The exact command that continues this run from its ``last.ckpt``, ready to paste into a shell.

    The path is quoted for Hydra too: run names hold ``=`` and ``,`` (``...,batch_size=2``), which
    Hydra's override grammar would otherwise parse as a key or a sweep.
    """
    overrides = [o for o in _task_overrides() if not o.lstrip("+~").startswith("ckpt_path=")]
    checkpoint = Path(cfg.run.checkpoint_dir) / "last.ckpt"
    words = ["python", "train.py", *overrides, f'ckpt_path="{checkpoint}"']
    return " ".join(shlex.quote(word) for word in words)


def signal_exit_status(error: BaseException, trainer: pl.Trainer) -> int | None:
    """143 for SIGTERM, 130 for SIGINT (Ctrl-C), None for anything else.

    Lightning turns SIGTERM into ``SIGTERMException`` (a ``SystemExit`` with status 0) and Ctrl-C into
    ``sys.exit(1)`` raised while handling the ``KeyboardInterrupt``.
    """
    if isinstance(error, SIGTERMException) or getattr(trainer, "received_sigterm", False):
        return EXIT_SIGTERM
    if isinstance(error, KeyboardInterrupt) or (
        isinstance(error, SystemExit) and isinstance(error.__context__, KeyboardInterrupt)
    ):
        return EXIT_SIGINT
    return None


def _naming_overrides(cfg: DictConfig) -> list[str]:
    """The overrides a run is named from; ``init_from`` always among them, however it was set (a
    fine-tuned run must never share a name - and so a variant in the report - with runs from scratch)."""
    overrides = _task_overrides()
    if cfg.get("init_from") and not any(o.lstrip("+~").startswith("init_from=") for o in overrides):
        overrides.append(f"init_from={cfg.init_from}")
    return overrides


def name_run(cfg: DictConfig) -> None:
    """Fill ``cfg.run`` (name, version, folders) from the model, the norm and the overrides."""
    norm = NormSpec.from_config(OmegaConf.to_container(cfg.norm, resolve=True))
    if norm.kind == "batch" and cfg.trainer.get("sync_batchnorm"):
        # Lightning converts batch norm to SyncBatchNorm (trainer=ddp on GPUs): the name says what ran.
        norm = dataclasses.replace(norm, kind="sync_batch")
    name = (
        cfg.run.name
        or name_from_checkpoint(cfg.ckpt_path, cfg.paths.checkpoint_dir)
        or run_name(cfg.model.name, norm, _naming_overrides(cfg), cfg.run.name_ignores)
    )
    log_root = Path(cfg.paths.log_dir) / name
    checkpoint_root = Path(cfg.paths.checkpoint_dir) / name
    version = cfg.run.version or choose_version(name, log_root, checkpoint_root, cfg.ckpt_path)
    with open_dict(cfg):
        cfg.run.name = name
        cfg.run.version = version
        cfg.run.log_dir = str(log_root / version)
        cfg.run.checkpoint_dir = str(checkpoint_root / version)


def runs_on_cpu(trainer_cfg: DictConfig) -> bool:
    accelerator = trainer_cfg.get("accelerator", "auto")
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def check_distributed_norm(cfg: DictConfig) -> None:
    """SyncBatchNorm is GPU-only in torch's DDP: say so before the processes start.

    ``trainer=ddp`` turns batch norm into SyncBatchNorm on GPUs. On CPU (gloo) torch refuses
    SyncBatchNorm, so batch norm stays per process there - announced loudly, and visible as
    ``norm/layer_types`` in the HPARAMS tab - while an explicit ``norm=sync_batch`` is an error.
    """
    multi_process = cfg.trainer.get("strategy") not in (None, "auto") or cfg.trainer.get("devices") not in (1, "1")
    if multi_process and cfg.norm.kind in ("batch_instance", "switchable"):
        log.warning(
            "norm=%s under DDP: its batch statistics are those of each process's own batch (Lightning's "
            "sync_batchnorm converts plain batch norm only). Compare it with norm=batch at the same per-process "
            "batch size.",
            cfg.norm.kind,
        )
    if not (runs_on_cpu(cfg.trainer) and multi_process):
        return
    if cfg.norm.kind == "sync_batch":
        raise ValueError(
            "norm=sync_batch needs GPUs: torch's DDP refuses SyncBatchNorm on CPU. Use norm=batch "
            "(per-process statistics) for CPU runs, or trainer.accelerator=gpu."
        )
    if cfg.trainer.get("sync_batchnorm"):
        log.warning(
            "trainer.sync_batchnorm=true is ignored on CPU (torch's DDP supports SyncBatchNorm on GPUs "
            "only): batch norm statistics stay per process in this run."
        )
        with open_dict(cfg):
            cfg.trainer.sync_batchnorm = False


#: The data module each model trains on, and the config that gives it (embedded_<model> does too).
_DATA_OF_MODEL = {
    "cyclegan": ("UnpairedDataModule", "data=unpaired data.root=DIR"),
    "style": ("StyleDataModule", "data=content_style data.root=DIR data.style_image=FILE"),
    "autoencoder": ("ImageFolderDataModule", "data=image_folder data.root=DIR"),
    "adain": ("ContentStylesDataModule", "data=content_styles data.root=DIR data.style_root=DIR"),
}

#: Norm kinds that normalise with batch statistics in training.
_BATCH_STATISTICS_KINDS = ("batch", "sync_batch", "batch_instance", "switchable")


def check_model_and_data(cfg: DictConfig) -> None:
    """A model with another model's data would fail late with a KeyError; say what fits instead."""
    expected = _DATA_OF_MODEL.get(cfg.model.name)
    target = str(cfg.data.get("_target_", ""))
    if expected is None or target.rsplit(".", 1)[-1] == expected[0]:
        return
    raise ValueError(
        f"model={cfg.model.name} trains on {expected[0]} data, but the data config builds "
        f"{target.rsplit('.', 1)[-1] or 'nothing'}. Use {expected[1]}, or data=embedded_{cfg.model.name} "
        f"(the default) for the embedded offline data."
    )


def data_style_count(data: DictConfig) -> int:
    """How many styles a style model's data hold: ``data.style_images`` entries, else ``data.num_styles``, else 1."""
    images = data.get("style_images")
    if images is not None:
        return 1 if isinstance(images, str) else len(images)
    return int(data.get("num_styles") or 1)


def fill_num_styles(cfg: DictConfig) -> None:
    """Conditional instance norm gets one gamma/beta row per style of the data (``norm.num_styles``
    filled in, or checked when set); several styles with a one-style norm are refused."""
    if cfg.model.get("name") != "style":
        return  # the network factory refuses conditional norms on the other models
    count = data_style_count(cfg.data)
    if cfg.norm.kind in STYLE_CONDITIONED_KINDS:
        given = cfg.norm.get("num_styles")
        if given is not None and given != count:
            raise ValueError(
                f"norm.num_styles={given} but the data hold {count} style(s) (data.style_images / data.num_styles). "
                f"Drop norm.num_styles: it is filled from the data."
            )
        with open_dict(cfg):
            cfg.norm.num_styles = count
    elif count > 1:
        raise ValueError(
            f"The data hold {count} styles, but norm={cfg.norm.kind} learns one style per network. Add "
            f"norm=conditional_instance (a gamma/beta table per style, Dumoulin et al. 2017), or train one "
            f"style with data.style_image=FILE."
        )


def check_image_size_fits(datamodule: Any, model: torch.nn.Module, cfg: DictConfig) -> None:
    """A crop size the networks cannot take would fail at the first forward pass, after the run
    started; refuse it before, with the nearest sizes that work."""
    size = getattr(datamodule, "image_size", None)
    if size is None:
        return
    for name, network in model.named_children():
        multiple, smallest = getattr(network, "size_multiple", 1), getattr(network, "min_size", 1)
        if size % multiple == 0 and size >= smallest:
            continue
        below = max(smallest, size // multiple * multiple)
        above = max(smallest, -(-size // multiple) * multiple)
        fits = " or ".join(f"data.image_size={s}" for s in sorted({below, above}))
        raise ValueError(
            f"data.image_size={size} does not fit model={cfg.model.name}: its {type(network).__name__} ({name}) "
            f"takes sizes that are multiples of {multiple} and at least {smallest} px. Use {fits}."
        )


def warn_about_batch_statistics(cfg: DictConfig) -> None:
    """Batch norm at batch size 1 is legal but rarely what is meant: say so once, before training."""
    if cfg.norm.kind in _BATCH_STATISTICS_KINDS and cfg.data.get("batch_size") == 1:
        log.warning(
            "norm=%s with data.batch_size=1: in training the batch statistics are those of a single image "
            "(instance-norm-like), in eval mode the running statistics of all of them, so train and eval "
            "outputs differ most here (val/bn_train_eval_gap; docs/ablations.md, bn_eval_gap). Use a larger "
            "batch or norm=instance/group, unless this is the ablation you want.",
            cfg.norm.kind,
        )


_PLAIN_DDP = ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")


def strategy_for_model(model_name: str | None, strategy: str | None) -> str | None:
    """``strategy``, with ``find_unused_parameters`` turned on for CycleGAN's plain DDP variants.

    CycleGAN's generator step freezes the discriminators (their parameters get no gradients in that
    backward) and its discriminator step leaves the generators out, which plain DDP reports as an
    error after the first step.
    """
    if model_name == "cyclegan" and strategy in _PLAIN_DDP:
        return f"{strategy}_find_unused_parameters_true"
    return strategy


def allow_unused_parameters_for_cyclegan(cfg: DictConfig) -> None:
    """Apply :func:`strategy_for_model` to ``cfg.trainer.strategy``."""
    strategy = strategy_for_model(cfg.model.get("name"), cfg.trainer.get("strategy"))
    if strategy != cfg.trainer.get("strategy"):
        with open_dict(cfg):
            cfg.trainer.strategy = strategy


def instantiate(config: DictConfig, **kwargs):
    """``hydra.utils.instantiate`` that lets our own errors through unwrapped.

    Hydra wraps every constructor error in an InstantiationException whose text repeats the
    config; the original message (a missing VGG file, a bad norm kind) is what a user needs.
    """
    try:
        return hydra.utils.instantiate(config, **kwargs)
    except InstantiationException as error:
        if error.__cause__ is not None:
            raise error.__cause__ from None
        raise


def build(cfg: DictConfig) -> tuple[pl.LightningDataModule, pl.LightningModule, pl.Trainer]:
    """Datamodule, task and trainer of a config whose ``run`` section is filled."""
    allow_unused_parameters_for_cyclegan(cfg)
    with open_dict(cfg):  # `auto` is ours, not Lightning's: bf16-mixed where bf16 is fast
        cfg.trainer.precision = resolve_training_precision(cfg.trainer.precision, cfg.trainer.get("accelerator"))
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    logger = instantiate(cfg.logger)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    model.run_record = run_record(cfg, trainer.strategy.root_device)
    model.varied_hparams = varied_hparams(_task_overrides())
    model.settings = measured_settings(cfg)  # saved in every checkpoint, checked on resume
    if cfg.get("init_from"):
        load_initial_weights(model, cfg.init_from)
        log.info("Weights from init_from=%s (weights only: new optimizer, step 0, this run's seed).", cfg.init_from)
    return datamodule, model, trainer


def check_resume_path(ckpt_path: str | None, key: str = "ckpt_path") -> None:
    if ckpt_path and not Path(ckpt_path).is_file():
        raise FileNotFoundError(
            f"{key}={ckpt_path} does not exist. Checkpoints are written to "
            f"<paths.checkpoint_dir>/<model>/<norm variant>/version_N/last.ckpt; list them with "
            f"`ls -R checkpoints`."
        )


def check_checkpoints(cfg: DictConfig) -> None:
    """``ckpt_path`` and ``init_from`` exist, are not both given, and a resume matches its run's settings."""
    check_resume_path(cfg.ckpt_path)
    check_resume_path(cfg.get("init_from"), "init_from")
    if cfg.ckpt_path and cfg.get("init_from"):
        raise ValueError(
            "ckpt_path and init_from are both set. ckpt_path continues a run where it stopped (same settings, "
            "same folder); init_from starts a new run from a checkpoint's weights. Choose one."
        )
    if cfg.ckpt_path:
        check_resume(cfg)


def _remove_empty_run_folder(cfg: DictConfig) -> None:
    """The version folder reserved for a run that never started, and its run-name folders if now empty."""
    if cfg.ckpt_path:
        return
    root, folder = Path(cfg.paths.log_dir).absolute(), Path(cfg.run.log_dir).absolute()
    while folder != root and folder.is_relative_to(root) and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def save_run_config(cfg: DictConfig) -> None:
    """``config.yaml`` in the run's log folder; a resumed run keeps the original and adds its own beside it."""
    folder = Path(cfg.run.log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "config.yaml"
    if target.exists():
        index = 1
        while (target := folder / f"config.resume_{index}.yaml").exists():
            index += 1
    OmegaConf.save(cfg, target, resolve=True)


def quiet_library_noise() -> None:
    """One copy of each log line, and no warnings a user can do nothing about."""
    if logging.getLogger().handlers:
        # `import lightning` adds its own console handler; under Hydra the root logger already
        # prints (and writes train.log), so Lightning's lines would appear twice.
        logging.getLogger("lightning").handlers.clear()
    # Lightning-internal deprecation inside its own pytree helper (not our code).
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # CycleGAN's checkpoints are meant to hold the state after its optimizer steps.
    warnings.filterwarnings("ignore", message=r".*ModelCheckpoint with manual optimization.*")
    # The tasks convert batches to channels_last in on_after_batch_transfer; the datamodule has no such hook.
    warnings.filterwarnings("ignore", message=r".*overridden `on_after_batch_transfer` in `LightningModule`.*")
    quiet_compiler_notes()  # speed.compile on a CPU build with CUDA libraries
    # Lightning's model summary only sizes fp32 models; the parameter counts it prints are still right.
    warnings.filterwarnings("ignore", message=r".*is not supported by the model summary.*")
    # The style task's VGG is frozen in eval mode on purpose (stylenorm.losses.vgg).
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")


def _is_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # composed outside a Hydra app
        return False


def parallel_runs() -> int | None:
    """How many runs the sweep launcher starts at once (hydra/launcher=parallel: its ``n_jobs``);
    None for a plain run or the basic launcher's one-after-another."""
    try:
        launcher = HydraConfig.get().launcher
    except ValueError:  # composed outside a Hydra app
        return None
    if "joblib" not in str(launcher.get("_target_", "")).lower():
        return None
    n_jobs = int(launcher.n_jobs)
    return usable_cores() if n_jobs < 0 else n_jobs  # joblib's -1: all cores


def set_threads(cfg: DictConfig) -> None:
    """CPU threads of this run (``speed.num_threads``; auto: the cores shared among parallel runs)."""
    threads = threads_per_run(cfg.speed.get("num_threads", "auto"), parallel_runs())
    if threads is not None:
        torch.set_num_threads(threads)
        log.info("Using %d CPU thread(s) for this run (speed.num_threads=%s).", threads, cfg.speed.get("num_threads"))


def is_redundant_sweep_variant(cfg: DictConfig) -> bool:
    """``norm=none`` with ``norm.affine=true`` inside a sweep: the same network as affine false."""
    return cfg.norm.kind == "none" and cfg.norm.get("affine") is True and _is_multirun()


def fit_and_validate(trainer: pl.Trainer, model, datamodule, ckpt_path: str | None) -> dict[str, float]:
    """``trainer.fit``, then one validation of the final weights; returns the final metrics."""
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    validated_last_step = getattr(model, "last_validated_step", -1) == trainer.global_step
    diverged = getattr(model, "divergence", None) is not None  # nothing to learn from NaN weights
    if not trainer.interrupted and not diverged and trainer.limit_val_batches != 0 and not validated_last_step:
        # max_steps usually stops mid-epoch, after the last scheduled validation: validate the final
        # weights too, so every run's last logged metrics and image grid describe what it ended with
        # (not twice when the schedule already validated them: learning curves get one point per step).
        trainer.validate(model, datamodule=datamodule, verbose=False)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    return metrics


def run(cfg: DictConfig) -> dict[str, float]:
    """Train as configured; returns the final logged metrics (floats)."""
    quiet_library_noise()
    if is_redundant_sweep_variant(cfg):
        log.info("Skipping norm=none with affine=true: no norm layers, so it is the affine=false run.")
        return {}
    check_model_and_data(cfg)
    fill_num_styles(cfg)
    check_distributed_norm(cfg)
    warn_about_batch_statistics(cfg)
    check_checkpoints(cfg)  # before anything is written: a refused resume leaves its run untouched
    set_threads(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    name_run(cfg)
    try:
        datamodule, model, trainer = build(cfg)
        check_image_size_fits(datamodule, model, cfg)
    except BaseException:
        _remove_empty_run_folder(cfg)  # a run that never started leaves no empty version_N behind
        raise
    if trainer.is_global_zero:
        save_run_config(cfg)
        log.info(
            "Run %s/%s: logs in %s, checkpoints in %s",
            cfg.run.name,
            cfg.run.version,
            cfg.run.log_dir,
            cfg.run.checkpoint_dir,
        )
        log.info("If it stops, resume with: %s", resume_command(cfg))
    with published_version(cfg.run.name, cfg.run.version):
        try:
            metrics = fit_and_validate(trainer, model, datamodule, cfg.ckpt_path)
        except BaseException as error:  # recorded for the report, then raised as it was
            exit_status = signal_exit_status(error, trainer)
            if trainer.is_global_zero:
                status = "crashed" if exit_status is None else "interrupted"
                what = (
                    f"{type(error).__name__}: {error}"
                    if exit_status is None
                    else f"stopped by a signal (exit {exit_status})"
                )
                write_result(cfg.run.log_dir, status, trainer.global_step, {}, what)
                if (Path(cfg.run.checkpoint_dir) / "last.ckpt").is_file():
                    log.error("Run %s/%s stopped at step %d; its checkpoint is saved. Resume with:\n  %s",
                              cfg.run.name, cfg.run.version, trainer.global_step, resume_command(cfg))  # fmt: skip
            if exit_status is not None:
                raise SystemExit(exit_status) from error
            raise
    divergence = getattr(model, "divergence", None)  # set by callbacks.divergence_guard
    if divergence is not None:
        if trainer.is_global_zero:
            write_result(cfg.run.log_dir, "diverged", trainer.global_step, metrics, f"diverged: {divergence}")
        if not _is_multirun():  # in a sweep, the other variants go on: a diverged variant is a result
            raise SystemExit(1)
        return metrics
    if trainer.is_global_zero:
        write_result(cfg.run.log_dir, final_status(metrics, trainer.interrupted), trainer.global_step, metrics)
        log.info(
            "Finished %s/%s at step %d. Final metrics: %s",
            cfg.run.name,
            cfg.run.version,
            trainer.global_step,
            {k: round(v, 4) for k, v in sorted(metrics.items())},
        )
        log.info("View with: tensorboard --logdir %s", cfg.paths.log_dir)
    return metrics
