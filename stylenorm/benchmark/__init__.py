"""Speed measurement: this project's paths against plain eager fp32 references (``scripts/benchmark.py``).

:mod:`~stylenorm.benchmark.measure` (time, memory, FLOPs), :mod:`~stylenorm.benchmark.reference`
(the plain implementations), :mod:`~stylenorm.benchmark.workloads` (the cases),
:mod:`~stylenorm.benchmark.report` (table and JSON), :mod:`~stylenorm.benchmark.scaling`
(step time against image size, batch and DDP processes).
"""
