"""The ablation report: the claims a preset declared before its runs, tested on the runs' own records.

``scripts/ablation_report.py`` writes a report folder (:mod:`.cli`); ``scripts/ablation_docs.py`` regenerates
docs/ablations.md from the committed ones (:mod:`.docs`). How a claim is tested: docs/training.md,
"Normalization ablations"; what a result must carry: docs/evidence.md.
"""
