"""Speed measurement (``scripts/benchmark.py``): this project's paths against plain eager fp32 references.

measure (time, memory, FLOPs), reference (the plain implementations), workloads (the cases and scaling
sweeps), commands (whole stylize jobs and sweeps), report (tables and JSON); docs/performance.md.
"""
