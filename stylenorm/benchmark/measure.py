"""How the benchmark measures: wall time, peak memory, FLOPs and the matmul peak they are compared to.

Time: ``perf_counter`` around one synchronised call. Peak memory, in an untimed call: CUDA's
allocator statistics, or on the CPU a thread sampling the resident set size. FLOPs:
``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products). Peak: the best of
a few square matmuls at the precision in question. Details: docs/modules.md, docs/performance.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclasses.dataclass(frozen=True)
class Timing:
    """How every path is timed: ``warmup`` untimed calls, then ``repeats`` timed ones, fewer (at least 1)
    where they would take longer than about ``budget_s`` seconds."""

    device: torch.device
    warmup: int = 1
    repeats: int = 3
    budget_s: float | None = None


@dataclasses.dataclass
class Samples:
    """One path's timed calls, its first call, the peak memory of its memory call and its FLOPs."""

    times: list[float] = dataclasses.field(default_factory=list)
    peak_bytes: int = 0
    first_call_s: float | None = None  # one-off costs (compilation) + a call with memory tracking
    flops: int | None = None
    last_result: Any = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.times)


def _mallopt(mmap_threshold: int, trim_threshold: int) -> bool:
    """Fix glibc's mmap and trim thresholds; False where this is not glibc (nothing changes)."""
    try:
        libc = ctypes.CDLL("libc.so.6")  # -3, -1: M_MMAP_THRESHOLD, M_TRIM_THRESHOLD of malloc.h
        return libc.mallopt(-3, mmap_threshold) == 1 and libc.mallopt(-1, trim_threshold) == 1
    except (OSError, AttributeError):
        return False


def malloc_for_timing() -> bool:
    """glibc's own steady state (its dynamic thresholds grow to these after large frees), fixed so that
    timings do not depend on what ran before."""
    return _mallopt(32 * 1024**2, 64 * 1024**2)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
        # Blocks above 256 KiB straight from and back to the system, and free heap pages released now:
        # the resident set then follows live memory instead of reusing pages kept from earlier calls.
        _mallopt(256 * 1024, 256 * 1024)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
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
        malloc_for_timing()


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (forward and, if it runs one, backward)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak_flops(
    device: torch.device, dtype: torch.dtype, sizes: tuple[int, ...] = (2048, 4096), repeats: int = 2
) -> float:
    """Best FLOP/s of square ``n x n`` matmuls in ``dtype`` over ``sizes`` (the best size differs by
    precision and machine)."""
    best = 0.0
    for n in sizes:
        a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        torch.mm(a, b)  # warm-up: kernel selection, page faults
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            torch.mm(a, b)
            synchronize(device)
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def timed_call(fn: Callable[[], Any], device: torch.device, samples: Samples) -> Any:
    """Run ``fn`` once, appending its wall time to ``samples``; returns (and keeps) its result."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    samples.times.append(time.perf_counter() - start)
    samples.last_result = result
    return result


def memory_call(fn: Callable[[], Any], device: torch.device, samples: Samples, *, flops: bool = False) -> float:
    """One untimed call of ``fn`` recording its peak memory (and, with ``flops``, its FLOPs); returns its
    seconds, memory tracking included."""
    start = time.perf_counter()
    with PeakMemory(device) as memory:
        if flops:
            samples.flops = count_flops(fn)
        else:
            fn()
        synchronize(device)
    samples.peak_bytes = memory.peak_bytes
    return time.perf_counter() - start


def affordable_repeats(repeats: int, call_seconds: float, budget_s: float | None) -> int:
    """``repeats``, or fewer (at least 1) when that many calls of ``call_seconds`` would exceed ``budget_s``."""
    if budget_s is None or call_seconds <= 0:
        return repeats
    return max(1, min(repeats, int(budget_s // call_seconds)))


def interleaved(
    paths: dict[str, Callable[[], Any]], timing: Timing, reference: str | None = None
) -> dict[str, Samples]:
    """Per path: untimed calls first, then timed calls in turns (A, B, A, B, ...), so that a change in
    machine load hits every path alike.

    The ``reference`` path (plain eager code: nothing to compile) warms up with one call that records its
    peak memory and FLOPs. Every other path makes ``warmup`` calls (the first one's time is its
    ``first_call_s``: compilation happens there), then its memory call. The time budget is reckoned from
    the reference's call (the slowest path's without one). Why: docs/modules.md.
    """
    samples = {name: Samples() for name in paths}
    call_s = {}  # how long a call takes, from the memory call (for the time budget)
    for name, fn in paths.items():
        if name == reference:
            call_s[name] = memory_call(fn, timing.device, samples[name], flops=True)
            continue
        for i in range(max(1, timing.warmup)):
            synchronize(timing.device)
            start = time.perf_counter()
            fn()
            synchronize(timing.device)
            if i == 0:
                samples[name].first_call_s = time.perf_counter() - start
        call_s[name] = memory_call(fn, timing.device, samples[name])
    slowest = call_s[reference] if reference else max(call_s.values())
    for _ in range(affordable_repeats(timing.repeats, slowest, timing.budget_s)):
        for name, fn in paths.items():
            timed_call(fn, timing.device, samples[name])
    return samples
