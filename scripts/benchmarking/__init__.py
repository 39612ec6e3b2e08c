"""Speed measurement (``scripts/benchmark.py``): this project's paths against plain eager fp32 references.
The modules: docs/modules.md; the results: docs/performance.md."""
