"""How many CPU cores a run may use (the parallel launcher, :func:`stylenorm.speed.threads_per_run`); no torch."""

from __future__ import annotations

import os

from omegaconf import OmegaConf


def usable_cores() -> int:
    """This process's CPU affinity (a container's or taskset's limit), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def register_usable_cores_resolver() -> None:
    """``${usable_cores:}`` (configs/hydra/launcher/parallel.yaml), in the launcher and its workers."""
    if not OmegaConf.has_resolver("usable_cores"):
        OmegaConf.register_new_resolver("usable_cores", usable_cores)
