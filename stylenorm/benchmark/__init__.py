"""Speed measurement: this project's paths against plain eager fp32 references (``scripts/benchmark.py``).

:mod:`~stylenorm.benchmark.measure` (time, memory, FLOPs), :mod:`~stylenorm.benchmark.reference`
(the plain implementations), :mod:`~stylenorm.benchmark.workloads` (the cases and the scaling sweeps),
:mod:`~stylenorm.benchmark.commands` (whole stylize jobs and sweeps), :mod:`~stylenorm.benchmark.report`
(tables and JSON).
"""
