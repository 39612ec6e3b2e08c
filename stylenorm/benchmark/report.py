"""Benchmark results as rows: a printed table (Markdown, so it pastes into docs/performance.md) and JSON.

The JSON (``--json``) is ``{"schema": JSON_SCHEMA, "meta": {...}, "rows": [...]}``; every row has the
stable keys of :data:`STABLE_ROW_KEYS` (documented in docs/performance.md, "JSON output"), which
tools may rely on: later versions add keys but do not rename or drop these. Inference rows also carry
``max_gray_diff`` and ``mean_gray_diff`` (0-255 gray levels against the fp32 reference).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

from stylenorm.benchmark.workloads import Case

_MIB = 1024**2

#: Version of the JSON layout; raised only if a stable key ever has to change meaning.
JSON_SCHEMA = 1
#: Keys every row has, with their meaning fixed (``median_ms`` and ``peak_mem_mib`` in those units).
STABLE_ROW_KEYS = ("workload", "size", "batch", "path", "precision", "median_ms", "speedup", "peak_mem_mib")
#: Keys inference rows add: how far the project's pixels are from the fp32 reference's (0-255).
QUALITY_ROW_KEYS = ("max_gray_diff", "mean_gray_diff")


def machine_description(device: torch.device) -> dict[str, Any]:
    """What the numbers were measured on."""
    info = {
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def rows(case: Case, peaks: dict[str, float]) -> list[dict[str, Any]]:
    """The reference row and the project row of one case, with speed-up and MFU filled in."""
    out = []
    for path, samples, precision in (
        ("reference", case.reference, "fp32"),
        ("stylenorm", case.project, case.project_precision),
    ):
        seconds = samples.median_s
        row = {
            "workload": case.workload,
            "size": case.size,
            "batch": case.batch,
            "path": path,
            "precision": precision if case.workload != "data" else "-",
            "median_s": seconds,
            "times_s": samples.times,
            "images_per_s": case.images_per_call / seconds,
            "speedup": case.reference.median_s / seconds,
            "peak_mib": samples.peak_bytes / _MIB,  # of the memory call (see stylenorm.benchmark.measure)
            "first_call_s": samples.first_call_s,
            "repeats": len(samples.times),
            "notes": "plain eager fp32 NCHW" if path == "reference" else case.notes,
        }
        if case.flops:
            peak = peaks["bf16" if precision in ("bf16", "bf16-mixed") else "fp32"]
            row["gflop"] = case.flops / 1e9
            row["gflop_per_s"] = case.flops / seconds / 1e9
            row["share_of_matmul_peak"] = case.flops / seconds / peak
        if path == "stylenorm":
            row.update(case.extra)
        row["median_ms"] = seconds * 1000
        row["peak_mem_mib"] = row["peak_mib"]
        if "max_abs_diff_gray_levels" in row:
            row["max_gray_diff"] = row["max_abs_diff_gray_levels"]
            row["mean_gray_diff"] = row["mean_abs_diff_gray_levels"]
        out.append(row)
    return out


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else format(value, spec) + unit


def markdown_table(table: list[dict[str, Any]]) -> str:
    header = (
        "| workload | size | batch | path | precision | median | img/s | speed-up | peak mem | GFLOP/s | "
        "of matmul peak | first call | n |"
    )
    lines = [header, "|" + "---|" * 13]
    for r in table:
        lines.append(
            f"| {r['workload']} | {r['size']} | {r['batch']} | {r['path']} | {r['precision']} | "
            f"{r['median_s'] * 1000:.0f} ms | {r['images_per_s']:.2f} | {r['speedup']:.2f}x | "
            f"{r['peak_mib']:.0f} MiB | {_fmt(r.get('gflop_per_s'), '.0f')} | "
            f"{_fmt(r.get('share_of_matmul_peak'), '.0%')} | "
            f"{_fmt(r['first_call_s'], '.1f', ' s')} | {r['repeats']} |"
        )
    return "\n".join(lines)


def quality_lines(table: list[dict[str, Any]]) -> list[str]:
    """Inference rows: how far the project's pixels are from the reference's."""
    return [
        f"{r['workload']} {r['size']} px: mean |diff| {r['mean_abs_diff_gray_levels']:.3f}, "
        f"max {r['max_abs_diff_gray_levels']:.1f} gray levels (0-255)"
        for r in table
        if "mean_abs_diff_gray_levels" in r
    ]


def write_json(path: Path, results: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": JSON_SCHEMA, **results}, indent=2))
    return path
