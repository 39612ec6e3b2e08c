"""The ablation report of a sweep, from its TensorBoard event files (see README, "Training").

    python scripts/ablation_report.py logs --out report

Writes report/ablation.md, ablation.csv and ablation.png, and a custom-scalars layout under
logs/.layout; the work is done in :mod:`stylenorm.report.cli`.
"""

import sys

from stylenorm.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
