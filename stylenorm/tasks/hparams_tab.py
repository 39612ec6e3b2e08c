"""The HPARAMS-tab record of a run, written so that a sweep reads as its ablation table.

TensorBoard lists the hyperparameters of the first run's experiment record by name, so a record of
every setting opened on ``ablation/...``, ``beta1`` and other constants while the norm and the swept
keys sat off-screen. The tab therefore gets the settings that tell runs apart - the model, the norm
and every key the command line or sweep set - and the validation metrics as its columns; the full
record stays in ``hparams.yaml``. Written with TensorBoard's public hparams API (booleans stay
booleans) through the logger's event writer; no scalars are logged here, so no placeholder values
precede the first validation, and a run stopped later keeps its last validation in the table.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from tensorboard.plugins.hparams import summary_v2 as hp  # `api` re-exports it, but imports TensorFlow

#: Columns every run shows in the tab, whatever its command line set.
IDENTITY_HPARAMS = ("model", "norm/kind", "norm/affine")


def tab_hparams(params: Mapping[str, Any], varied: Collection[str] = ()) -> dict[str, bool | int | float | str]:
    """The entries of ``params`` the tab shows: :data:`IDENTITY_HPARAMS` and the ``varied`` ones it holds."""
    return {name: value for name, value in params.items() if name in IDENTITY_HPARAMS or name in varied}


def _domain(value: Any):
    # A boolean column is declared boolean (shown as true/false); numbers and strings get no domain, so
    # the first run's record does not restrict the values the tab offers for filtering.
    return hp.Discrete([False, True]) if isinstance(value, bool) else None


@rank_zero_only  # other DDP ranks have no event writer (Lightning's own log_hyperparams is rank-0 only too)
def log_hparams(
    logger: TensorBoardLogger,
    params: Mapping[str, Any],
    metric_tags: Sequence[str],
    varied: Collection[str] = (),
) -> None:
    """Record ``params`` (flat, scalars and strings) in hparams.yaml, and the :func:`tab_hparams` with
    ``metric_tags`` as metric columns in the HPARAMS tab."""
    logger.log_hyperparams(dict(params), metrics={})  # hparams.yaml only: an empty dict writes no events
    shown = tab_hparams(params, varied)
    config = hp.hparams_config_pb(
        hparams=[hp.HParam(name, _domain(value)) for name, value in shown.items()],
        metrics=[hp.Metric(tag) for tag in metric_tags],
    )
    # trial_id: the run folder's last two names (runs/<time>_<model>-<norm> or <time>/<job>), so two runs are
    # never merged into one row for sharing the shown values, and the column stays readable
    session = hp.hparams_pb(shown, trial_id="/".join(Path(logger.log_dir).parts[-2:]))
    writer = logger.experiment.file_writer
    writer.add_summary(config)
    writer.add_summary(session)
    writer.flush()
