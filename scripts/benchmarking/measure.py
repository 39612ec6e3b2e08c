"""How the benchmark measures: wall time, peak memory, FLOPs and the matmul peak they are compared to.
Details: docs/modules.md."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


@dataclasses.dataclass(frozen=True)
class Timing:
    """``warmup`` untimed calls per path, then ``repeats`` timed ones (fewer where over ``budget_s`` seconds)."""

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
    """glibc's steady state (its dynamic thresholds grow to these), fixed: timings don't depend on what ran before."""
    return _mallopt(32 * 1024**2, 64 * 1024**2)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_of(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Wall time of one call of ``fn`` (the device synchronised before and after) and its result."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def _status_bytes(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak since the last reset) of this process, in bytes."""
    return int(re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())[1]) * 1024


class PeakMemory:
    """Context manager: ``peak_bytes`` = the most memory in use above the level at entry (CPU: 0 outside Linux)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_bytes = 0
        self._base: int | None = None

    def __enter__(self) -> PeakMemory:
        synchronize(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        # Blocks above 256 KiB straight from and back to the system, and free heap pages released now:
        # the resident set then follows live memory instead of reusing pages kept from earlier calls.
        _mallopt(256 * 1024, 256 * 1024)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        with contextlib.suppress(OSError):  # the kernel's peak resident set back to the current one
            Path("/proc/self/clear_refs").write_text("5")
            self._base = _status_bytes("VmRSS")
        return self

    def __exit__(self, *exc: Any) -> None:
        synchronize(self.device)
        if self.device.type == "cuda":
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._base
            return
        if self._base is not None:
            self.peak_bytes = max(0, _status_bytes("VmHWM") - self._base)
        malloc_for_timing()


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (forward and, if it runs one, backward)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak_flops(
    device: torch.device, dtype: torch.dtype, sizes: tuple[int, ...] = (2048, 4096), repeats: int = 2
) -> float:
    """Best FLOP/s of square ``n x n`` matmuls in ``dtype`` over ``sizes`` (the best differs by precision)."""
    best = 0.0
    for n in sizes:
        matmul = functools.partial(torch.mm, *(torch.randn(n, n, device=device, dtype=dtype) for _ in range(2)))
        matmul()  # warm-up: kernel selection, page faults
        best = max(best, 2 * n**3 / min(seconds_of(matmul, device)[0] for _ in range(repeats)))
    return best


def timed_call(fn: Callable[[], Any], device: torch.device, samples: Samples) -> None:
    seconds, samples.last_result = seconds_of(fn, device)
    samples.times.append(seconds)


def memory_call(fn: Callable[[], Any], device: torch.device, samples: Samples, *, flops: bool = False) -> float:
    """One untimed call of ``fn`` recording its peak memory (and FLOPs); returns its seconds, tracking included."""
    start = time.perf_counter()
    with PeakMemory(device) as memory:
        if flops:
            samples.flops = count_flops(fn)
        else:
            fn()
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
    """Per path: untimed calls (the ``reference``: its memory and FLOP call; the others ``warmup`` calls, the
    first timed as ``first_call_s``, then a memory call), then timed calls in turns (docs/modules.md)."""
    samples = {name: Samples() for name in paths}
    call_s = {}  # seconds of each memory call, for the time budget
    for name, fn in paths.items():
        if name != reference:
            samples[name].first_call_s = seconds_of(fn, timing.device)[0]
            for _ in range(timing.warmup - 1):
                seconds_of(fn, timing.device)
        call_s[name] = memory_call(fn, timing.device, samples[name], flops=name == reference)
    slowest = call_s[reference] if reference else max(call_s.values())
    for _ in range(affordable_repeats(timing.repeats, slowest, timing.budget_s)):
        for name, fn in paths.items():
            timed_call(fn, timing.device, samples[name])
    return samples
