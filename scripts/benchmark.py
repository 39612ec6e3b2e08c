"""Benchmark this project's paths against plain eager fp32 references (see docs/performance.md).

    python scripts/benchmark.py                          # everything, CPU or GPU, < 10 min on 2 CPU cores
    python scripts/benchmark.py --workloads cyclegan --size 128 --batch 4 --repeats 5
    python scripts/benchmark.py --scaling                # step time vs image size, batch and DDP processes

The work is done in ``scripts/benchmarking/`` (developer tooling beside the package, not part of it).
"""

import sys

from benchmarking.cli import main  # scripts/ is on sys.path when this file runs

if __name__ == "__main__":
    sys.exit(main())
