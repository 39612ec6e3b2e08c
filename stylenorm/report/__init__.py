"""The ablation report: the claims a preset declared before its runs, tested on the runs' own records.
``scripts/ablation_report.py`` writes a report folder (:mod:`.cli`), ``scripts/ablation_docs.py`` docs/ablations.md
(:mod:`.docs`). How a claim is tested: docs/training.md, "Normalization ablations"; docs/evidence.md.
"""
