"""How long a run will take, and how far it is: one line with the whole run's length after a few warm steps, then a
whole-run bar in a terminal, or log lines every ``every_seconds`` / ``every_percent`` without one. Steps are optimizer
steps, as ``trainer.max_steps`` counts them; docs/training.md.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar
from rich import get_console

log = logging.getLogger(__name__)


def planned_steps(trainer: Trainer, steps_per_batch: int = 1) -> int | None:
    """Optimizer steps the run will end at: ``max_steps``, or ``max_epochs`` of batches, whichever is first."""
    limits = [trainer.max_steps] if trainer.max_steps is not None and trainer.max_steps > 0 else []
    batches = trainer.num_training_batches
    if trainer.max_epochs is not None and trainer.max_epochs > 0 and math.isfinite(batches):
        per_epoch = math.ceil(batches / max(1, trainer.accumulate_grad_batches)) * steps_per_batch
        limits.append(trainer.max_epochs * per_epoch)
    return min(limits) if limits else None


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``: as precise as an estimate deserves."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


class RunProgressLog(Callback):
    """The run-length estimate, the final time and (``lines=True``) progress lines, logged on rank zero."""

    def __init__(self, every_seconds: float = 30.0, every_percent: float = 5.0, lines: bool = True):
        if every_seconds <= 0 or not 0 < every_percent <= 100:
            raise ValueError(
                f"callbacks.progress: every_seconds must be > 0 and every_percent in (0, 100], got "
                f"{every_seconds} and {every_percent}."
            )
        self.every_seconds, self.every_percent, self.lines = every_seconds, every_percent, lines
        self.planned: int | None = None
        self.estimate_seconds: float | None = None  # the announced run length (from the start of training)
        self._warm: tuple[float, int] | None = None  # (time, step) after the first batch
        self._sanity_seconds: float | None = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._steps_per_batch = getattr(pl_module, "optimizer_steps_per_batch", 1)
        self.planned = planned_steps(trainer, self._steps_per_batch)
        self._started = self._last_line = time.monotonic()
        self._first_step = trainer.global_step  # a resumed run starts where its checkpoint stopped
        self._warm = self.estimate_seconds = None
        self._validation_seconds, self._validations = 0.0, 0  # spent validating since warm-up, and how often
        self._next_percent = self.every_percent

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._validation_began = time.monotonic()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seconds = time.monotonic() - self._validation_began
        if trainer.sanity_checking:  # before training: the first estimate of a validation's time
            self._sanity_seconds = seconds
        elif self._warm is not None:
            self._validation_seconds += seconds
            self._validations += 1

    def _validation_estimate(self, trainer: Trainer) -> float | None:
        """Seconds per validation: measured, else the sanity check's scaled to a full one."""
        if self._validations:
            return self._validation_seconds / self._validations
        sanity, full = sum(trainer.num_sanity_val_batches or []), sum(trainer.num_val_batches or [])
        if self._sanity_seconds is None or not sanity or not math.isfinite(full):
            return None
        return self._sanity_seconds / sanity * full

    def _remaining_validations(self, trainer: Trainer, step: int) -> int:
        """Validations still to come, the final one ``train.py`` runs included."""
        if self.planned is None or not trainer.enable_validation or trainer.limit_val_batches == 0:
            return 0
        every_batches = getattr(trainer, "val_check_batch", None)
        if not every_batches or not math.isfinite(every_batches):
            return 1
        batches_left = (self.planned - step) / self._steps_per_batch
        return int(batches_left // (every_batches * max(1, trainer.check_val_every_n_epoch or 1))) + 1

    def _per_step(self, now: float, step: int) -> float:
        """Training time per optimizer step since warm-up, validation time left out."""
        return (now - self._warm[0] - self._validation_seconds) / (step - self._warm[1])

    def _seconds_left(self, trainer: Trainer, now: float, step: int) -> float:
        """Time for the planned steps and validations still to come."""
        left, each = max(0, self.planned - step) * self._per_step(now, step), self._validation_estimate(trainer)
        return left if each is None else left + self._remaining_validations(trainer, step) * each

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if not trainer.is_global_zero:
            return
        now, step = time.monotonic(), trainer.global_step
        if self._warm is None:
            self._warm = (now, step)
        elif self.estimate_seconds is None:
            measured = step - self._warm[1]
            if measured >= 3 and (now - self._warm[0] >= 5.0 or measured >= 20):
                self._announce(trainer, now, step)
        elif self.lines:
            percent = 100 * step / self.planned if self.planned else None
            if now - self._last_line >= self.every_seconds or (percent is not None and percent >= self._next_percent):
                log.info(self._progress_line(trainer, now, step))
                self._last_line = now
                if percent is not None:
                    self._next_percent = (math.floor(percent / self.every_percent) + 1) * self.every_percent

    def _announce(self, trainer: Trainer, now: float, step: int) -> None:
        per_step = self._per_step(now, step)
        if self.planned is None:
            log.info("Run length: no step or epoch limit known; %.3g s per step on this machine.", per_step)
            self.estimate_seconds = math.inf
            return
        validations, each = self._remaining_validations(trainer, step), self._validation_estimate(trainer)
        note = ""
        if validations:
            plural = "s" * (validations > 1)
            if each is None:
                note = f"; {validations} validation{plural} not timed yet"
            else:
                note = f", {validations} validation{plural} of about {duration(each)}"
        self.estimate_seconds = now - self._started + self._seconds_left(trainer, now, step)
        shown = f"every {duration(self.every_seconds)} or {self.every_percent:g}% of the run" if self.lines else "below"
        log.info(
            f"Run length: {self.planned - self._first_step} steps, about {duration(self.estimate_seconds)} on this "
            f"machine ({per_step:.3g} s per step over steps {self._warm[1] + 1}-{step}{note}). "
            f"Progress is shown {shown}."
        )

    def _progress_line(self, trainer: Trainer, now: float, step: int) -> str:
        """``Step 300/1500 (20%), 2 min 40 s elapsed, about 10 min left; train/loss 0.0123``."""
        position = f"{step}/{self.planned} ({100 * step / self.planned:.0f}%)" if self.planned else f"{step}"
        text = f"Step {position}, {duration(now - self._started)} elapsed"
        if self.planned:
            text += f", about {duration(self._seconds_left(trainer, now, step))} left"
        metrics = ", ".join(f"{name} {float(v):.4g}" for name, v in sorted(trainer.progress_bar_metrics.items()))
        return f"{text}; {metrics}" if metrics else text

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero or not hasattr(self, "_started"):
            return
        estimate = self.estimate_seconds
        estimated = f" (estimated {duration(estimate)})" if estimate is not None and math.isfinite(estimate) else ""
        took = duration(time.monotonic() - self._started)
        log.info("Trained %d steps in %s%s.", trainer.global_step - self._first_step, took, estimated)


class RunProgressBar(RichProgressBar):
    """Lightning's Rich bar over the whole run, with :class:`RunProgressLog`'s estimate (lines without a terminal)."""

    def __init__(self, every_seconds: float = 30.0, every_percent: float = 5.0, terminal: bool | None = None):
        super().__init__()
        if terminal is None:
            terminal = get_console().is_terminal or get_console().is_jupyter
        self.run_log = RunProgressLog(every_seconds, every_percent, lines=not terminal)
        if not terminal:
            self.disable()

    def _get_train_description(self, current_epoch: int) -> str:
        return f"{'Training':{len(self.validation_description)}}"

    def _initialize_train_progress_bar_id(self) -> None:
        if self.progress is None:
            return
        # Created at the run's current step, so a resumed run's bar (and Rich's speed) starts there.
        self.train_progress_bar_id = self.progress.add_task(
            self._get_train_description(self.trainer.current_epoch),
            total=self.run_log.planned,
            completed=self.trainer.global_step,
        )

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.is_enabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self.refresh()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        self.run_log.on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if self.is_disabled:
            return
        if self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the logger's version: not a metric
        return items


def _and_run_log(hook: str):
    """The bar's ``hook``, then the same hook of its :class:`RunProgressLog`."""

    def both(self: RunProgressBar, trainer: Trainer, pl_module: LightningModule) -> None:
        getattr(RichProgressBar, hook)(self, trainer, pl_module)
        getattr(self.run_log, hook)(trainer, pl_module)

    return both


for _hook in ("on_train_start", "on_validation_start", "on_validation_end", "on_train_end"):
    setattr(RunProgressBar, _hook, _and_run_log(_hook))


def run_progress(bar: bool = True, every_seconds: float = 30.0, every_percent: float = 5.0) -> Callback:
    """:class:`RunProgressBar` for ``trainer.enable_progress_bar=true``, else the log lines alone."""
    if bar:
        return RunProgressBar(every_seconds, every_percent)
    return RunProgressLog(every_seconds, every_percent, lines=True)
