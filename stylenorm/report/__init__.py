"""The ablation report: the claims a preset declared before its runs, tested on the runs' own records.

``python scripts/ablation_report.py LOGDIR --out OUTDIR`` reads the run folders under LOGDIR into
pandas tables and writes the report folder; ``python scripts/ablation_docs.py`` regenerates
docs/ablations.md from the committed report folders (``--check``: fail when they disagree).

Modules, one job each: :mod:`~stylenorm.report.claims` (the schema), :mod:`~stylenorm.report.frame`
(run folders -> DataFrames), :mod:`~stylenorm.report.inference` (intervals, TOST, OLS, Holm, power),
:mod:`~stylenorm.report.aggregate` (across tasks: IQM, probability of improvement; Agarwal et al.
2021), :mod:`~stylenorm.report.convergence` (the plateau rule), :mod:`~stylenorm.report.evaluate`
(claims -> tests -> verdicts), :mod:`~stylenorm.report.document`, :mod:`~stylenorm.report.figures`
and :mod:`~stylenorm.report.docs` (the outputs).
"""
