"""The ablation report of a sweep, from its TensorBoard event files (see README, "Normalization ablations").

    python scripts/ablation_report.py logs --out report
    python scripts/ablation_report.py logs --out report --reference norm/kind=group --within data/batch_size

Writes report/ablation.md and ablation.csv (per variant over seeds: mean, std, 95% CI, n, Welch's
t-tests with Holm's correction, convergence, runs left out), ablation_runs.md/.csv (per run),
curves.png, batch_size.png (when the batch size varies) and ablation.png, and a custom-scalars
layout under logs/.layout; the work is done in :mod:`stylenorm.report.cli`.
"""

import sys

from stylenorm.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
