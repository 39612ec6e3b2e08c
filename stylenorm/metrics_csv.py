"""``metrics.csv`` in the run folder: Lightning's CSVLogger, but a resumed run appends to its file (Lightning's
deletes it in a non-empty folder, which a Hydra run folder always is). Its reader,
:func:`stylenorm.run_record.read_metrics`, takes the last row per step."""

from __future__ import annotations

import csv
import os

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:  # Lightning's deletes the file; the header gives the known columns
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as file:
                self.metrics_keys = sorted(next(csv.reader(file), []))


class MetricsCSVLogger(CSVLogger):
    """``CSVLogger(save_dir=run_dir, name="", version="")`` that appends on resume."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
