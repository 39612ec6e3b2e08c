"""The ablation report of a sweep: the claims its preset declared, tested on its run folders.

    python train.py -m experiment=ablation_autoencoder hydra.sweep.dir=logs/ablations/autoencoder
    python scripts/ablation_report.py logs/ablations/autoencoder --out docs/ablations/autoencoder

Writes runs.csv, steps.csv.gz, claims.yaml (the data), tests.csv, variants.csv, report.md, curves.png and
forest.png; the work is done in :mod:`stylenorm.report.cli`.
"""

import sys

from stylenorm.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
