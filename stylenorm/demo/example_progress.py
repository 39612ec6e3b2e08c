"""The example runs' steps on the page's progress bar (:mod:`stylenorm.demo.examples`); kept apart so the
page does not import Lightning until examples are trained."""

from __future__ import annotations

from collections.abc import Callable

from lightning.pytorch import Callback

#: Set while examples train: called with each optimizer step of the current run.
report: Callable[[int], None] | None = None


class ReportSteps(Callback):
    """Passes each optimizer step to :data:`report` (configured for the example runs only)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if report is not None:
            report(trainer.global_step)
