"""Regenerate docs/ablations.md (and each docs/ablations/<name>/report.md) from the committed report
folders and docs/ablations.template.md; ``--check`` changes nothing and exits 1 naming the first line
where a committed file differs from what the committed CSVs give (the work: stylenorm.report.docs).

    python scripts/ablation_docs.py            # write
    python scripts/ablation_docs.py --check    # CI: the document cannot drift from its data
"""

import argparse
import sys
from pathlib import Path

from stylenorm.report.claims import ClaimError
from stylenorm.report.docs import check, write
from stylenorm.report.frame import ReportError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ablation_docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing; exit 1 on the first difference")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="the repository")
    args = parser.parse_args(argv)
    try:
        if args.check:
            difference = check(args.root)
            if difference is not None:
                print(
                    f"ablation_docs: out of date: {difference}\n  run: python scripts/ablation_docs.py", file=sys.stderr
                )
                return 1
            print("ablation_docs: docs/ablations.md matches its report folders")
            return 0
        for path in write(args.root):
            print(f"  {path}")
    except (ReportError, ClaimError, OSError) as error:
        print(f"ablation_docs: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
