"""A callback that sends its own process a real SIGTERM once training reaches a step: preemption on cue.

Used through the config (``+callbacks.stop._target_=stop_at_step.SigtermAtStep``), so the stopped run
goes through the same signal handling, exception checkpoint and exit status as a preempted job.
"""

import os
import signal

from lightning.pytorch import Callback


class SigtermAtStep(Callback):
    def __init__(self, step: int):
        self.step = step
        self.sent = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.sent or trainer.global_step < self.step:
            return
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.SIG_IGN, None):
            raise AssertionError("Lightning's SIGTERM handler is not installed: the signal would kill the tests")
        self.sent = True
        os.kill(os.getpid(), signal.SIGTERM)
