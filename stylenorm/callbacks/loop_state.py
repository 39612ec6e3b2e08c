"""A run resumed from a checkpoint written between two epochs starts the next epoch as the run never stopped did.

A SIGTERM at an epoch's last batch stops the run after the epoch has finished (Lightning raises in
``FitLoop.on_advance_end``), so the exception checkpoint holds a finished epoch together with that
epoch's batch counters, which Lightning 2.6 clears only when the next epoch starts afresh. Resumed,
its training-epoch loop reads them as batches already done in the next epoch: it runs that epoch
empty (end-of-epoch hooks included, e.g. CycleGAN's learning-rate step) and trains on from the one
after, an epoch ahead of the run it continues. Nothing of the finished epoch is left to restart, so
the next one starts as a fresh epoch.
"""

from __future__ import annotations

from lightning.pytorch.loops import _FitLoop


def start_next_epoch_afresh(fit_loop: _FitLoop) -> bool:
    """Before training resumes: when the checkpoint's epoch had finished, let the next one start afresh (True)."""
    epochs, epoch_loop = fit_loop.epoch_progress.total, fit_loop.epoch_loop
    finished = epochs.ready == epochs.started == epochs.processed == epochs.completed
    if not (epoch_loop.restarting and finished and epoch_loop.batch_progress.current.ready > 0):
        return False
    epoch_loop.restarting = False  # its reset() then clears the finished epoch's counters, as between epochs
    return True
