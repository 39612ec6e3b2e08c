"""The ablation report: what every run of a sweep measured, read from its TensorBoard event files.

``python scripts/ablation_report.py LOGDIR --out OUTDIR`` writes a markdown table (``ablation.md``),
the raw numbers (``ablation.csv``), a picture of the same validation inputs through every variant
(``ablation.png``) and a custom-scalars layout under ``LOGDIR/.layout`` that puts each metric of
all runs on one TensorBoard chart. No TensorBoard server is needed.
"""

from stylenorm.report.layout import LAYOUT_DIR, custom_scalars_layout, write_layout
from stylenorm.report.metrics import best_runs, higher_is_better, metric_columns
from stylenorm.report.picture import write_picture
from stylenorm.report.runs import ReportError, RunSummary, collect_runs, find_run_dirs, identity_from_folder
from stylenorm.report.table import write_csv, write_markdown

__all__ = [
    "LAYOUT_DIR",
    "ReportError",
    "RunSummary",
    "best_runs",
    "collect_runs",
    "custom_scalars_layout",
    "find_run_dirs",
    "higher_is_better",
    "identity_from_folder",
    "metric_columns",
    "write_csv",
    "write_layout",
    "write_markdown",
    "write_picture",
]
