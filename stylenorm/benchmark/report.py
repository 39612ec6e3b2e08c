"""Benchmark results as Markdown tables (they paste into docs/performance.md) and JSON, whose stable keys
(:data:`STABLE_ROW_KEYS`) are documented in docs/performance.md, "JSON output".
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from stylenorm.benchmark.workloads import Case
from stylenorm.speed import cpu_name

#: Version of the JSON layout; raised only if a stable key ever has to change meaning.
JSON_SCHEMA = 1
#: Keys every row has, with their meaning fixed (``median_ms`` and ``peak_mem_mib`` in those units).
STABLE_ROW_KEYS = ("workload", "size", "batch", "path", "precision", "median_ms", "speedup", "peak_mem_mib")
#: Keys inference rows add: how far the project's pixels are from the fp32 reference's (0-255).
QUALITY_ROW_KEYS = ("max_gray_diff", "mean_gray_diff")


def machine_description(device: torch.device) -> dict[str, Any]:
    info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version()}
    info.update(cpu=cpu_name(), cpu_threads=torch.get_num_threads())
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def rows(case: Case, peaks: dict[str, float]) -> list[dict[str, Any]]:
    """The reference row and the project row of one case, with speed-up and MFU filled in."""
    out = []
    flops = case.reference.flops
    for path, samples, precision in (
        ("reference", case.reference, "fp32"),
        ("stylenorm", case.project, case.project_precision),
    ):
        precision = "-" if case.workload == "data" else precision
        seconds = samples.median_s
        row = {
            "workload": case.workload,
            "size": case.size,
            "batch": case.batch,
            "path": path,
            "precision": precision,
            "median_s": seconds,
            "times_s": samples.times,
            "images_per_s": case.images_per_call / seconds,
            "speedup": case.reference.median_s / seconds,
            "peak_mib": samples.peak_bytes / 1024**2,  # of the memory call (see stylenorm.benchmark.measure)
            "first_call_s": samples.first_call_s,
            "repeats": len(samples.times),
            "notes": "plain eager fp32 NCHW" if path == "reference" else case.notes,
        }
        if flops:
            peak = peaks["bf16" if precision in ("bf16", "bf16-mixed") else "fp32"]
            row.update(
                gflop=flops / 1e9, gflop_per_s=flops / seconds / 1e9, share_of_matmul_peak=flops / seconds / peak
            )
        if path == "stylenorm":
            row.update(case.extra)
        row.update(median_ms=seconds * 1000, peak_mem_mib=row["peak_mib"])
        if "max_abs_diff_gray_levels" in row:
            row.update(max_gray_diff=row["max_abs_diff_gray_levels"], mean_gray_diff=row["mean_abs_diff_gray_levels"])
        out.append(row)
    return out


def _table(header: str, lines: Iterable[str]) -> list[str]:
    """A Markdown table: ``header`` and each of ``lines`` are cells joined by ``" | "``."""
    return [f"| {header} |", "|" + "---|" * (header.count(" | ") + 1), *(f"| {line} |" for line in lines)]


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else format(value, spec) + unit


def markdown_table(table: list[dict[str, Any]]) -> str:
    header = (
        "workload | size | batch | path | precision | median | img/s | speed-up | peak mem | GFLOP/s | "
        "of matmul peak | first call | n"
    )
    lines = (
        f"{r['workload']} | {r['size']} | {r['batch']} | {r['path']} | {r['precision']} | "
        f"{r['median_s'] * 1000:.0f} ms | {r['images_per_s']:.2f} | {r['speedup']:.2f}x | "
        f"{r['peak_mib']:.0f} MiB | {_fmt(r.get('gflop_per_s'), '.0f')} | "
        f"{_fmt(r.get('share_of_matmul_peak'), '.0%')} | {_fmt(r['first_call_s'], '.1f', ' s')} | {r['repeats']}"
        for r in table
    )
    return "\n".join(_table(header, lines))


def quality_lines(table: list[dict[str, Any]]) -> list[str]:
    """Inference rows: how far the project's pixels are from the reference's."""
    return [
        f"{r['workload']} {r['size']} px: mean |diff| {r['mean_abs_diff_gray_levels']:.3f}, "
        f"max {r['max_abs_diff_gray_levels']:.1f} gray levels (0-255)"
        for r in table
        if "mean_abs_diff_gray_levels" in r
    ]


def scaling_tables(report: dict[str, Any]) -> str:
    """The three sweeps of ``--scaling`` as Markdown tables."""
    size = (f"{r['size']} | 1 | {r['step_s'] * 1000:.0f} ms | {r['ms_per_megapixel']:.0f}" for r in report["size"])
    batch = (
        f"{r['size']} | {r['batch']} | {r['step_s'] * 1000:.0f} ms | {r['images_per_s']:.2f}" for r in report["batch"]
    )
    lines = [*_table("image size | batch | step | ms per megapixel", size), ""]
    lines += _table("image size | batch | step | images/s", batch)
    ddp = []
    for r in report["ddp"]:
        per_process = r["batch_per_process"]
        ddp.append(f"1 process, all cores | {per_process} | {r['one_process_step_s'] * 1000:.0f} ms | 1.00")
        two = r["two_process_step_s"] * 1000
        ddp.append(f"2 processes (DDP, gloo) | {per_process} | {two:.0f} ms | {r['throughput_ratio']:.2f}")
    if ddp:
        lines += ["", *_table("setup | batch per process | step | images/s ratio", ddp)]
    return "\n".join(lines)


def stylize_jobs_table(report: dict[str, Any]) -> str:
    title = (
        f"Stylize jobs (TransformerNet, one fresh process each, cold inductor cache; --compile auto threshold "
        f"{report['threshold_megapixels']:g} megapixels per shape; medians of {report['repeats']} alternating runs "
        f"for jobs under it, one run above)"
    )
    header = "images | size | megapixels | --compile never | --compile auto | auto / never | auto decided"
    lines = (
        f"{r['images']} | {r['size']} | {r['megapixels']:.1f} | {r['never_s']:.1f} s | {r['auto_s']:.1f} s | "
        f"{r['auto_over_never']:.2f} | {r['decision']}"
        for r in report["rows"]
    )
    return "\n".join([title, "", *_table(header, lines)])


def sweep_table(report: dict[str, Any]) -> str:
    seconds, runs, seed_sd = report["seconds"], report["runs"], report["median_seed_sd"]
    launchers = [
        f"one after another (Hydra's default) | {runs['sequential']} | {seconds['sequential']:.0f} s",
        f"hydra/launcher=parallel | {runs['parallel']} | {seconds['parallel']:.0f} s",
    ]
    lines = [
        f"Sweep experiment={report['preset']} {' '.join(report['overrides'])}".rstrip(),
        "",
        *_table("launcher | runs | wall time", launchers),
        "",
        f"Speed-up: {report['speedup']:.2f}x. Final {report['metric']}, run by run: largest difference "
        f"{report['max_abs_difference']:.4g}, mean {report['mean_abs_difference']:.4g}"
        + (f"; seed-to-seed standard deviation within a configuration (median): {seed_sd:.4g}" if seed_sd else ""),
    ]
    if report["unmatched"]:
        lines.append(f"Runs in only one of the sweeps: {', '.join(report['unmatched'])}")
    return "\n".join(lines)


def write_json(path: Path, results: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": JSON_SCHEMA, **results}, indent=2))
    return path
