"""The HPARAMS-tab record of a run, written so that a sweep reads as its ablation table.

Lightning's ``TensorBoardLogger.log_hyperparams`` writes, per run, an experiment summary that lists
the hyperparameters in name order; TensorBoard uses the first run's and shows its first five
columns, so a sweep over norm kinds opened with ``beta1``, ``beta2`` and three corruption settings,
identical in every run, while the norm and metric columns sat off-screen. Here each run marks the
hyperparameters its command line or sweep set as ``differs`` (every job of one sweep marks the same
ones), and TensorBoard puts those first and hides the rest by default (they stay one click away).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.utils.tensorboard.summary import hparams


def experiment_summary_with_varied_first(experiment, varied: Collection[str]):
    """The experiment ``Summary`` of :func:`torch.utils.tensorboard.summary.hparams` with the
    hyperparameters in ``varied`` flagged ``differs`` and listed first (in place; also returned)."""
    value = experiment.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    infos = list(data.experiment.hparam_infos)
    for info in infos:
        info.differs = info.name in varied
    data.experiment.ClearField("hparam_infos")
    data.experiment.hparam_infos.extend(sorted(infos, key=lambda info: (not info.differs, info.name)))
    value.metadata.plugin_data.content = data.SerializeToString()
    return experiment


@rank_zero_only  # other DDP ranks have no event writer (Lightning's own log_hyperparams is rank-0 only too)
def log_hparams(
    logger: TensorBoardLogger,
    params: Mapping[str, Any],
    metric_tags: Sequence[str],
    varied: Collection[str] = (),
) -> None:
    """Record ``params`` (flat, scalars and strings) for hparams.yaml and the HPARAMS tab, with
    ``metric_tags`` as its metric columns (NaN until validation logs them)."""
    logger.log_hyperparams(dict(params), metrics={})  # hparams.yaml only: an empty dict writes no events
    placeholders = {tag: float("nan") for tag in metric_tags}
    if placeholders:
        logger.log_metrics(placeholders)
    experiment, session_start, session_end = hparams(dict(params), placeholders)
    writer = logger.experiment._get_file_writer()
    writer.add_summary(experiment_summary_with_varied_first(experiment, varied))
    writer.add_summary(session_start)
    writer.add_summary(session_end)
