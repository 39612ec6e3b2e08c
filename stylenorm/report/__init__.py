"""The ablation report: what every variant of a sweep measured over its seeds, and what is noise.

``python scripts/ablation_report.py LOGDIR --out OUTDIR`` groups the runs under LOGDIR into variants
(the same hparams apart from the seed), and writes per variant mean ± std [95% CI] n of every metric
with Welch's t-tests against a reference variant, Holm-corrected (``ablation.md``, ``ablation.csv``),
the per-run table (``ablation_runs.md``/``.csv``), learning curves (``curves.png``), the metric
against batch size where that varies (``batch_size.png``), a picture of the same validation inputs
through every variant (``ablation.png``) and a custom-scalars layout under ``LOGDIR/.layout`` that
puts each metric of all runs on one TensorBoard chart. No TensorBoard server is needed.

Modules, one job each: :mod:`~stylenorm.report.runs` reads a run, :mod:`~stylenorm.report.variants`
groups runs and picks references, :mod:`~stylenorm.report.stats` holds the statistics,
:mod:`~stylenorm.report.convergence` the plateau rule, :mod:`~stylenorm.report.analysis` applies
them (who is averaged in, what is compared), :mod:`~stylenorm.report.document`,
:mod:`~stylenorm.report.table`, :mod:`~stylenorm.report.curves` and :mod:`~stylenorm.report.picture`
write the outputs.
"""

from stylenorm.report.analysis import Analysis, analyze
from stylenorm.report.layout import LAYOUT_DIR, custom_scalars_layout, write_layout
from stylenorm.report.metrics import best_runs, higher_is_better, metric_columns
from stylenorm.report.picture import write_picture
from stylenorm.report.runs import ReportError, RunSummary, collect_runs, find_run_dirs, identity_from_folder
from stylenorm.report.table import write_csv, write_markdown
from stylenorm.report.variants import Variant, group_variants

__all__ = [
    "LAYOUT_DIR",
    "Analysis",
    "ReportError",
    "RunSummary",
    "Variant",
    "analyze",
    "best_runs",
    "collect_runs",
    "custom_scalars_layout",
    "find_run_dirs",
    "group_variants",
    "higher_is_better",
    "identity_from_folder",
    "metric_columns",
    "write_csv",
    "write_layout",
    "write_markdown",
    "write_picture",
]
