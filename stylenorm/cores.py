"""How many CPU cores a run may use: shared by the parallel sweep launcher's config and the per-run
thread count (:func:`stylenorm.speed.threads_per_run`). No torch import, so ``train.py --help``
stays fast."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity (a container's or taskset's limit), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def register_usable_cores_resolver() -> None:
    """``${usable_cores:}`` in configs (configs/hydra/launcher/parallel.yaml); idempotent, for the
    launching process and its workers alike."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("usable_cores"):
        OmegaConf.register_new_resolver("usable_cores", usable_cores)
