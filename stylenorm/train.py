"""What ``python train.py`` does with a composed config: check, build, train, record."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import lightning.pytorch as pl
from hydra.errors import InstantiationException
from omegaconf import DictConfig, open_dict

from stylenorm.checkpoint_io import checkpoint_step
from stylenorm.config_checks import check_and_fill, check_image_size_fits, skip_reason
from stylenorm.resume import (
    check_resume,
    config_digest,
    continue_in_place,
    load_initial_weights,
    measured_settings,
    resume_command,
    signal_exit_status,
)
from stylenorm.run_folder import (
    is_multirun,
    place_run,
    register_resolvers,
    save_config,
    seconds_since_placed,
    task_overrides,
)
from stylenorm.run_record import (
    NO_RECORD,
    final_status,
    provenance,
    read_result,
    run_record,
    varied_hparams,
    write_result,
)
from stylenorm.speed import quiet_library_noise, resolve_training_precision, set_threads
from stylenorm.tensorboard_link import view_lines

log = logging.getLogger(__name__)
register_resolvers()  # ${scaled_lr:...} in the study presets and the run folder's, for run(cfg) outside train.py


def instantiate(config: DictConfig, **kwargs):
    """``hydra.utils.instantiate`` that raises our own errors unwrapped (Hydra's wrapper repeats the config)."""
    try:
        return hydra.utils.instantiate(config, **kwargs)
    except InstantiationException as error:
        raise (error if error.__cause__ is None else error.__cause__) from None


def build(cfg: DictConfig) -> tuple[pl.LightningDataModule, pl.LightningModule, pl.Trainer]:
    """Datamodule, task and trainer of a checked config whose run folder is placed."""
    with open_dict(cfg):  # `auto` is ours, not Lightning's: bf16-mixed where bf16 is fast
        cfg.trainer.precision = resolve_training_precision(cfg.trainer.precision, cfg.trainer.get("accelerator"))
    datamodule, model = instantiate(cfg.data), instantiate(cfg.model)
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    loggers = [instantiate(c) for c in cfg.logger.values() if c is not None]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    model.run_record = run_record(cfg, trainer.strategy.root_device)
    model.varied_hparams = varied_hparams(task_overrides())
    model.settings = measured_settings(cfg)  # saved in every checkpoint, checked on resume
    if cfg.get("init_from"):
        load_initial_weights(model, cfg.init_from)
    return datamodule, model, trainer


def fit_and_validate(trainer: pl.Trainer, model, datamodule, ckpt_path: str | None) -> dict[str, float]:
    """``trainer.fit``, then a validation of the final weights unless the schedule just did one."""
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    validated_last_step = getattr(model, "last_validated_step", -1) == trainer.global_step
    diverged = getattr(model, "divergence", None) is not None
    if not trainer.interrupted and not diverged and trainer.limit_val_batches != 0 and not validated_last_step:
        trainer.validate(model, datamodule=datamodule, verbose=False)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    return metrics


def record(cfg: DictConfig, status: str, step: int, metrics: dict, error: str | None, device="cpu") -> None:
    """``result.json`` of this run, with its provenance."""
    write_result(
        cfg.paths.run_dir, status, step, metrics, error, config_digest=config_digest(cfg),
        settings_digest=config_digest(cfg, with_length=False),
        overrides=task_overrides(), wall_seconds=seconds_since_placed(),
        provenance=provenance(device, str(cfg.trainer.get("precision"))),
    )  # fmt: skip


def run(cfg: DictConfig) -> dict[str, float]:
    """Train as configured; returns the final metrics. In a sweep a failed job is recorded, not raised."""
    quiet_library_noise()
    place_run(cfg)
    if is_multirun() and (reason := skip_reason(cfg)):
        log.warning("Skipped: %s.", reason)
        record(cfg, "skipped", 0, {}, reason)
        return {}
    trainer, fitting = None, False
    try:
        check_and_fill(cfg)
        given_ckpt = cfg.ckpt_path  # one found by continue_in_place is checked there
        if (done := continue_in_place(cfg)) is not None:  # a re-run sweep: this job is done
            log.info("Already finished in %s: not trained again.", cfg.paths.run_dir)
            return done["metrics"]
        if given_ckpt:
            check_resume(cfg)  # before anything is written: a refused resume leaves its run untouched
        set_threads(cfg.speed.get("num_threads", "auto"))
        pl.seed_everything(cfg.seed, workers=True)
        datamodule, model, trainer = build(cfg)
        check_image_size_fits(datamodule, model, cfg)
        if trainer.is_global_zero:
            save_config(cfg)
            log.info("Run folder %s, checkpoints in %s", cfg.paths.run_dir, cfg.paths.run_checkpoint_dir)
            log.info("If it stops, resume with: %s", resume_command(cfg, task_overrides()))
        fitting = True
        metrics = fit_and_validate(trainer, model, datamodule, cfg.ckpt_path)
    except BaseException as error:
        exit_status = signal_exit_status(error, trainer)
        stop = (
            f"{type(error).__name__}: {error}" if exit_status is None else f"stopped by a signal (exit {exit_status})"
        )
        if not fitting:  # refused before training: never over an earlier run's record or the run a resume names
            if not cfg.ckpt_path and read_result(cfg.paths.run_dir)["status"] == NO_RECORD:
                record(cfg, "refused", 0, {}, stop)
        elif trainer.is_global_zero:
            record(cfg, "crashed" if exit_status is None else "interrupted", trainer.global_step, {}, stop)
            last = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
            if last.is_file():  # the step the file holds, read from it: a failed save leaves an older one
                command = resume_command(cfg, task_overrides())
                log.error("Stopped at step %d; its last checkpoint, %s, holds step %s. Resume with:\n  %s",
                          trainer.global_step, last, checkpoint_step(last), command)  # fmt: skip
        if exit_status is not None:
            raise SystemExit(exit_status) from error
        if is_multirun() and isinstance(error, Exception):  # the sweep goes on; its summary lists this job
            log.exception("Job failed: %s", error)
            return {}
        raise
    divergence = getattr(model, "divergence", None)  # set by callbacks.divergence_guard
    if trainer.is_global_zero:
        status = "diverged" if divergence is not None else final_status(metrics, trainer.interrupted)
        why = None if divergence is None else f"diverged: {divergence}"
        record(cfg, status, trainer.global_step, metrics, why, trainer.strategy.root_device)
    if divergence is not None and not is_multirun():
        raise SystemExit(1)
    if trainer.is_global_zero and divergence is None:
        log.info("Finished at step %d: %s", trainer.global_step, {k: round(v, 4) for k, v in sorted(metrics.items())})
        log.info("View with: %s", "\n  ".join(view_lines(cfg.paths.log_dir, [*model.hparam_metrics, *sorted(metrics)])))
    return metrics
