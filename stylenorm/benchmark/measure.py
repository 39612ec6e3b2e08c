"""How the benchmark measures: wall time, peak memory, FLOPs and the matmul peak they are compared to.

* Time: ``time.perf_counter`` around one call, with the device synchronised before and after.
* Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` above what was allocated before the call;
  on the CPU, torch keeps no allocator statistics, so a sampling thread reads the resident set size
  (``/proc/self/statm``, every 0.5 ms) and the peak above its level before the call is reported.
  glibc's malloc is told to return large blocks to the system at once (:func:`return_freed_memory`),
  so the resident set follows live tensors instead of keeping freed ones.
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one untimed call (convolutions and
  matrix products, forward and backward; elementwise ops are not counted, as is usual for MFU).
* Peak: the best of a few square matmuls at the precision in question, measured in the same run.
"""

from __future__ import annotations

import ctypes
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def return_freed_memory(threshold_bytes: int = 256 * 1024) -> bool:
    """Make glibc serve blocks above ``threshold_bytes`` by mmap and give them back when freed.

    glibc raises its mmap threshold dynamically after large frees (up to 32 MiB), after which
    freed activations stay in the heap and the resident set never falls; fixing the threshold keeps
    RSS an honest measure of live memory. Returns False where this is not glibc (no change).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, threshold_bytes) == 1
        return ok and libc.mallopt(_M_TRIM_THRESHOLD, threshold_bytes) == 1
    except (OSError, AttributeError):
        return False


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """Resident set size of this process (Linux); 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return 0


class PeakMemory:
    """Context manager: ``peak_bytes`` = the most memory in use above the level at entry."""

    def __init__(self, device: torch.device, interval_s: float = 0.0005):
        self.device = device
        self.interval_s = interval_s
        self.peak_bytes = 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        self._base = self._peak = resident_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, resident_bytes())
            time.sleep(self.interval_s)

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._base
            return
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(0, max(self._peak, resident_bytes()) - self._base)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (forward and, if it runs one, backward)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak_flops(device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of an ``n x n`` by ``n x n`` matmul in ``dtype`` on ``device`` (2 n^3 FLOPs each)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)  # warm-up: kernel selection, page faults
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


class Samples:
    """Times and peak memories of one path's repeats."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.peaks: list[int] = []
        self.first_call_s: float | None = None  # includes one-off costs: compilation, kernel choice

    @property
    def median_s(self) -> float:
        return statistics.median(self.times)

    @property
    def peak_bytes(self) -> int:
        return max(self.peaks) if self.peaks else 0


def timed_call(fn: Callable[[], Any], device: torch.device, samples: Samples) -> Any:
    """Run ``fn`` once, appending its wall time and peak memory to ``samples``; returns its result."""
    synchronize(device)
    with PeakMemory(device) as memory:
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        elapsed = time.perf_counter() - start
    samples.times.append(elapsed)
    samples.peaks.append(memory.peak_bytes)
    return result


def interleaved(
    paths: dict[str, Callable[[], Any]], device: torch.device, *, warmup: int, repeats: int
) -> dict[str, Samples]:
    """Warm every path up (``warmup`` calls each, untimed), then time them in turns: A, B, A, B, ...

    Turns rather than blocks, so that a change in machine load during the run (another process,
    thermal limits) hits every path alike instead of favouring whichever ran in the quiet part.
    """
    samples = {name: Samples() for name in paths}
    for name, fn in paths.items():
        for i in range(warmup):
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            if i == 0:
                samples[name].first_call_s = time.perf_counter() - start
    for _ in range(repeats):
        for name, fn in paths.items():
            timed_call(fn, device, samples[name])
    return samples
