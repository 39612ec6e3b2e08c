"""The HPARAMS-tab record of a run, written so that a sweep reads as its ablation table.

TensorBoard lists the first run's hyperparameters by name, so a record of every setting would bury the norm
and the swept keys. The tab gets the settings that tell runs apart - the model, the norm and every key the
command line or sweep set - with the validation metrics as columns; the full record stays in ``hparams.yaml``.
No scalars are logged here, so no placeholder values precede the first validation.
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


@rank_zero_only  # other DDP ranks have no event writer (Lightning's own log_hyperparams is rank-0 only too)
def log_hparams(
    logger: TensorBoardLogger, params: Mapping[str, Any], metric_tags: Sequence[str], varied: Collection[str] = ()
) -> None:
    """Record ``params`` (flat, scalars and strings) in hparams.yaml, and the :func:`tab_hparams` with
    ``metric_tags`` as metric columns in the HPARAMS tab."""
    logger.log_hyperparams(dict(params), metrics={})  # hparams.yaml only: an empty dict writes no events
    shown = tab_hparams(params, varied)
    # Booleans get a boolean domain (shown as true/false); other columns none, so that the first run's
    # values do not restrict what the tab offers for filtering.
    domains = {name: hp.Discrete([False, True]) if isinstance(value, bool) else None for name, value in shown.items()}
    config = hp.hparams_config_pb(
        hparams=[hp.HParam(name, domain) for name, domain in domains.items()],
        metrics=[hp.Metric(tag) for tag in metric_tags],
    )
    # trial_id: the run folder's last two names (runs/<time>_<model>-<norm> or <time>/<job>), so two runs are
    # never merged into one row for sharing the shown values, and the column stays readable
    session = hp.hparams_pb(shown, trial_id="/".join(Path(logger.log_dir).parts[-2:]))
    writer = logger.experiment.file_writer
    writer.add_summary(config)
    writer.add_summary(session)
    writer.flush()
