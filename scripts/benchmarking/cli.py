"""``python scripts/benchmark.py``: this project's training, stylize and data paths side by side with plain eager
fp32 references; prints Markdown tables (they paste into docs/performance.md) and writes JSON, whose stable keys
(:data:`STABLE_ROW_KEYS`), columns and results docs/performance.md documents."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from stylenorm.inference.jobs import COMPILE_MODES
from stylenorm.inference.stylizer import resolve_device
from stylenorm.speed import cpu_name, has_fast_bf16, quiet_library_noise

from . import commands, workloads
from .measure import Timing, malloc_for_timing, matmul_peak_flops
from .workloads import Case

PROG = "benchmark"
_COMPILE_OVERRIDE = {"auto": [], "always": ["speed.compile=true"], "never": ["speed.compile=false"]}
#: Version of the JSON layout; raised only if a stable key ever has to change meaning.
JSON_SCHEMA = 1
#: Keys every row has, with their meaning fixed (``median_ms`` and ``peak_mem_mib`` in those units).
STABLE_ROW_KEYS = ("workload", "size", "batch", "path", "precision", "median_ms", "speedup", "peak_mem_mib")
#: Keys inference rows add: how far the project's pixels are from the fp32 reference's (0-255).
QUALITY_ROW_KEYS = ("max_gray_diff", "mean_gray_diff")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Measure stylenorm's training steps, stylize inference and data loading against plain "
        "eager fp32 NCHW references of the same networks and losses (interleaved, after warm-up, median). "
        "What each option measures: docs/performance.md.",
    )
    add, names = parser.add_argument, workloads.WORKLOADS
    add("--workloads", nargs="+", choices=names, default=list(names), metavar="NAME",
        help=f"what to measure (default: all): {', '.join(names)}")  # fmt: skip
    add("--size", type=int, default=256, help="training and data image size in px (default %(default)s)")
    add("--stylize-sizes", type=int, nargs="+", default=[512, 1024], metavar="PX", help="square (default 512 1024)")
    add("--batch", type=int, help="batch size of every workload (default: the papers' for each)")
    add("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    add("--repeats", type=int, default=3, help="timed calls per path, median reported (default %(default)s)")
    add("--warmup", type=int, default=1, help="untimed calls per path first (default %(default)s)")
    add("--case-budget", type=float, default=20.0, metavar="SECONDS", help="fewer timed calls (at least 1) where "
        "--repeats of the slowest path would take longer (default %(default)g; 0: no limit)")  # fmt: skip
    add("--compile", choices=COMPILE_MODES, default="auto", help="torch.compile, training and stylize; auto "
        "(default): as the defaults decide for a full-length job (stylize: --stylize-job-images images)")  # fmt: skip
    add("--no-compile", dest="compile", action="store_const", const="never", help="--compile never")
    add("--stylize-job-images", type=int, default=100, metavar="N", help="the job auto plans for (default 100)")
    add("--override", nargs="*", default=[], metavar="KEY=VALUE", help="Hydra overrides for the training workloads")
    scaling = parser.add_argument_group("scaling (instead of the comparison table)").add_argument
    scaling("--scaling", action="store_true", help="training step time against image size, batch and 2 DDP processes")
    scaling("--scaling-model", choices=workloads.TRAINING, default="cyclegan", help="(default %(default)s)")
    scaling("--scaling-sizes", type=int, nargs="*", default=[128, 256, 512], metavar="PX")
    scaling("--scaling-batches", type=int, nargs="+", default=[1, 2, 4, 8, 16], metavar="N",
            help="the batch sweep's sizes; the first is also the DDP comparison's batch per process")  # fmt: skip
    scaling("--scaling-batch-size-px", type=int, default=128, metavar="PX", help="the batch sweep's size (default 128)")
    jobs = parser.add_argument_group("stylize jobs (instead of the comparison table)").add_argument
    jobs("--stylize-jobs", action="store_true", help="time whole stylize commands (fresh processes, cold inductor "
         "cache) under --compile auto and never")  # fmt: skip
    jobs("--stylize-jobs-size", type=int, default=1024, metavar="PX", help="image size (default %(default)s)")
    jobs("--stylize-jobs-counts", type=int, nargs="+", metavar="N", help="images per job (default: 1, 4 and the "
         "fewest that reach the --compile auto threshold)")  # fmt: skip
    jobs("--stylize-jobs-repeats", type=int, default=3, metavar="N", help="alternating runs of each mode per job "
         "under the threshold, median reported (default %(default)s)")  # fmt: skip
    sweep = parser.add_argument_group("sweep (instead of the comparison table)").add_argument
    sweep("--sweep", metavar="PRESET", help="python train.py -m experiment=PRESET one run after another and with "
          "hydra/launcher=parallel: wall times and per-run final metrics")  # fmt: skip
    sweep("--sweep-override", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both sweeps")
    sweep("--sweep-metric", help="the metric compared run by run (default: the preset's primary metric)")
    sweep("--sweep-out", type=Path, help="where the sweeps log (default: logs/benchmark/sweep-<time>)")
    add("--json", type=Path, help="write results here (default: logs/benchmark/...)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    malloc_for_timing()
    quiet_library_noise()
    started = time.perf_counter()
    meta = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_name()}
    meta["cpu_threads"] = torch.get_num_threads()
    if device.type == "cuda":
        meta["gpu"] = torch.cuda.get_device_name(device)
    peaks = {"fp32": matmul_peak_flops(device, torch.float32)}
    peaks["bf16"] = matmul_peak_flops(device, torch.bfloat16) if has_fast_bf16(device) else peaks["fp32"]
    meta.update({f"matmul_peak_{k}_tflops": v / 1e12 for k, v in peaks.items()}, argv=list(argv or sys.argv[1:]))
    print(
        f"{PROG}: {meta.get('gpu', meta['cpu'])}, {meta['cpu_threads']} threads, torch {meta['torch']}; "
        f"matmul peak fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s",
        flush=True,
    )
    timing = Timing(device, args.warmup, args.repeats, args.case_budget or None)
    if args.scaling:
        sizes, batches = args.scaling_sizes, args.scaling_batches
        results = workloads.scaling_report(args.scaling_model, timing, sizes, batches, args.scaling_batch_size_px)
        kind, key, text = "scaling", "scaling", scaling_tables(results)
    elif args.sweep:
        out = args.sweep_out or Path("logs/benchmark") / f"sweep-{datetime.now():%Y%m%d-%H%M%S}"
        metric = args.sweep_metric or commands.primary_metric(args.sweep)
        results = commands.sweep_report(args.sweep, out, list(args.sweep_override), metric)
        kind, key, text = "sweep", "sweep", sweep_table(results)
    elif args.stylize_jobs:
        size, counts = args.stylize_jobs_size, args.stylize_jobs_counts
        results = commands.stylize_jobs_report(size, counts, device, args.stylize_jobs_repeats)
        kind, key, text = "stylize-jobs", "stylize_jobs", stylize_jobs_table(results)
    else:
        results = comparison(args, timing, peaks)
        text = "\n".join([markdown_table(results), *quality_lines(results)])
        kind, key = "benchmark", "rows"
    print(f"\n{text}")
    meta["total_s"] = time.perf_counter() - started
    path = args.json or Path("logs/benchmark") / f"{kind}-{device.type}-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": JSON_SCHEMA, "meta": meta, key: results}, indent=2))
    print(f"{PROG}: {meta['total_s']:.0f} s in all; results in {path}")
    return 0


def comparison(args: argparse.Namespace, timing: Timing, peaks: dict[str, float]) -> list[dict]:
    """The comparison table's rows: every workload at every size, each row printed as it comes."""
    table = []
    for workload in args.workloads:
        batch = args.batch or workloads.DEFAULT_BATCH[workload]
        for size in args.stylize_sizes if workload in workloads.INFERENCE else [args.size]:
            print(f"{PROG}: {workload} {size} px batch {batch} ...", flush=True)
            case_started = time.perf_counter()
            if workload in workloads.TRAINING:
                overrides = [*_COMPILE_OVERRIDE[args.compile], *args.override]
                case = workloads.training_case(workload, size, batch, timing, overrides)
            elif workload in workloads.INFERENCE:
                case = workloads.inference_case(workload, size, batch, timing, args.compile, args.stylize_job_images)
            else:
                case = workloads.data_case(size, batch, timing)
            table += rows(case, peaks)
            last = markdown_table(table[-2:]).splitlines()[-1]
            print(last, f"({time.perf_counter() - case_started:.0f} s)", flush=True)
    return table


def rows(case: Case, peaks: dict[str, float]) -> list[dict[str, Any]]:
    """The reference row and the project row of one case, with speed-up and MFU filled in."""
    out = []
    for path, samples in (("reference", case.reference), ("stylenorm", case.project)):
        precision = "-" if case.workload == "data" else "fp32" if path == "reference" else case.project_precision
        seconds, flops, mib = samples.median_s, case.reference.flops, samples.peak_bytes / 1024**2
        row = {
            "workload": case.workload,
            "size": case.size,
            "batch": case.batch,
            "path": path,
            "precision": precision,
            "median_s": seconds,
            "median_ms": seconds * 1000,
            "times_s": samples.times,
            "images_per_s": case.images_per_call / seconds,
            "speedup": case.reference.median_s / seconds,
            "peak_mib": mib,  # of the memory call (see measure.py)
            "peak_mem_mib": mib,
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
    for r in report["ddp"]:  # at most one
        n, one, two = r["batch_per_process"], r["one_process_step_s"] * 1000, r["two_process_step_s"] * 1000
        ddp = [f"1 process, all cores | {n} | {one:.0f} ms | 1.00"]
        ddp.append(f"2 processes (DDP, gloo) | {n} | {two:.0f} ms | {r['throughput_ratio']:.2f}")
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


if __name__ == "__main__":
    sys.exit(main())
