"""The ablation report: the claims a preset declared before its runs, tested on the runs' own records.

``python scripts/ablation_report.py LOGDIR --out OUTDIR`` writes the report folder; ``python
scripts/ablation_docs.py`` regenerates docs/ablations.md from the committed report folders (``--check``:
fail when they disagree). One job per module: ``claims`` (the schema), ``frame`` (run folders ->
DataFrames), ``inference`` (intervals, TOST, OLS, Holm, power, the plateau rule), ``aggregate`` (across
tasks: IQM, probability of improvement; Agarwal et al. 2021), ``evaluate`` (claims -> verdicts),
``document``, ``figures`` and ``docs`` (the outputs). How a claim is tested:
docs/training.md, "Normalization ablations"; what a result must carry: docs/evidence.md.
"""
