"""How many CPU cores a run may use (the parallel launcher, :func:`stylenorm.speed.threads_per_run`); no torch."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """This process's CPU affinity (a container's or taskset's limit), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
