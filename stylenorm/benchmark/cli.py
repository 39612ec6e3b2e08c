"""``python scripts/benchmark.py``: this project's training, stylize and data paths against plain eager fp32
references, side by side in one process; prints a table and writes JSON. Columns and results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import torch

from stylenorm.benchmark import commands, report, workloads
from stylenorm.benchmark.measure import Timing, malloc_for_timing, matmul_peak_flops
from stylenorm.inference.jobs import COMPILE_MODES
from stylenorm.inference.stylizer import resolve_device
from stylenorm.speed import has_fast_bf16, quiet_library_noise

PROG = "benchmark"
_COMPILE_OVERRIDE = {"auto": [], "always": ["speed.compile=true"], "never": ["speed.compile=false"]}


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
    meta = report.machine_description(device)
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
        kind, key, text = "scaling", "scaling", report.scaling_tables(results)
    elif args.sweep:
        out = args.sweep_out or Path("logs/benchmark") / f"sweep-{datetime.now():%Y%m%d-%H%M%S}"
        metric = args.sweep_metric or commands.primary_metric(args.sweep)
        results = commands.sweep_report(args.sweep, out, list(args.sweep_override), metric)
        kind, key, text = "sweep", "sweep", report.sweep_table(results)
    elif args.stylize_jobs:
        size, counts = args.stylize_jobs_size, args.stylize_jobs_counts
        results = commands.stylize_jobs_report(size, counts, device, args.stylize_jobs_repeats)
        kind, key, text = "stylize-jobs", "stylize_jobs", report.stylize_jobs_table(results)
    else:
        results = comparison(args, timing, peaks)
        text = "\n".join([report.markdown_table(results), *report.quality_lines(results)])
        kind, key = "benchmark", "rows"
    print()
    print(text)
    meta["total_s"] = time.perf_counter() - started
    path = args.json or Path("logs/benchmark") / f"{kind}-{device.type}-{datetime.now():%Y%m%d-%H%M%S}.json"
    report.write_json(path, {"meta": meta, key: results})
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
            table += report.rows(case, peaks)
            last = report.markdown_table(table[-2:]).splitlines()[-1]
            print(last, f"({time.perf_counter() - case_started:.0f} s)", flush=True)
    return table


if __name__ == "__main__":
    sys.exit(main())
