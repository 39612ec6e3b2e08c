"""How the project's training step scales: with image size, with batch size, and with data-parallel
processes (``python scripts/benchmark.py --scaling``).

Size and batch sweeps time the LightningModule's step inside ``Trainer.fit`` (as
:func:`stylenorm.benchmark.workloads.training_case` does, without the reference). The DDP proxy
runs the same step in 2 processes (Lightning ``ddp_fork``, gloo on the CPU, each process with half
the cores and the same per-process batch) against 1 process with all cores: on one machine the
compute is the same, so the throughput ratio shows what gradient all-reduce and process overhead
cost - the data-parallel efficiency a second machine would start from.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from stylenorm.benchmark.workloads import StepTimer, build_task, make_trainer, random_data
from stylenorm.config_checks import strategy_for_model


class _ThreadsPerProcess(pl.Callback):
    """Give each DDP process its share of the cores (else 2 processes x all threads oversubscribe)."""

    def __init__(self, threads: int):
        self.threads = threads

    def setup(self, trainer, pl_module, stage) -> None:
        torch.set_num_threads(self.threads)


class _SaveTimes(pl.Callback):
    """Rank 0 writes its step times to a file: forked DDP workers cannot return them."""

    def __init__(self, timer: StepTimer, path: str):
        self.timer = timer
        self.path = path

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            Path(self.path).write_text(json.dumps({"times": self.timer.project.times}))


def step_seconds(
    model: str,
    *,
    size: int,
    batch: int,
    device: torch.device,
    warmup: int,
    repeats: int,
    processes: int = 1,
    overrides: list[str] = (),
) -> float:
    """Median seconds of one project training step (CycleGAN: one iteration) in ``processes`` processes."""
    # Eager: with speed.compile on (the paper presets) every new shape of the sweep would compile anew.
    _, task, precision = build_task(model, device, ["speed.compile=false", *overrides])
    timer = StepTimer(device, warmup)
    data = random_data(model, timer.steps_needed(repeats), batch, size, torch.Generator().manual_seed(0))
    if processes == 1:
        make_trainer(device, precision, [timer]).fit(task, datamodule=data)
        return timer.project.median_s
    threads = max(1, torch.get_num_threads() // processes)
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "times.json"
        callbacks = [_ThreadsPerProcess(threads), timer, _SaveTimes(timer, str(result))]
        # Every process steps through all the batches (each its own copy: the same per-process batch size).
        trainer = make_trainer(
            device,
            precision,
            callbacks,
            devices=processes,
            strategy=strategy_for_model(model, "ddp_fork"),
            use_distributed_sampler=False,
        )
        trainer.fit(task, datamodule=data)
        times = json.loads(result.read_text())["times"]
    return sorted(times)[len(times) // 2]


def scaling_report(
    model: str,
    device: torch.device,
    *,
    sizes: list[int],
    batches: list[int],
    batch_sweep_size: int,
    warmup: int,
    repeats: int,
) -> dict[str, Any]:
    """Rows for the three sweeps; printed as they come."""
    report: dict[str, Any] = {"model": model, "size": [], "batch": [], "ddp": []}
    common = {"device": device, "warmup": warmup, "repeats": repeats}
    for size in sizes:
        seconds = step_seconds(model, size=size, batch=1, **common)
        row = {"size": size, "batch": 1, "step_s": seconds, "ms_per_megapixel": 1000 * seconds / (size * size / 1e6)}
        report["size"].append(row)
        print(f"scaling: {model} {size} px batch 1: {seconds * 1000:.0f} ms/step", flush=True)
    for batch in batches:
        seconds = step_seconds(model, size=batch_sweep_size, batch=batch, **common)
        report["batch"].append(
            {"size": batch_sweep_size, "batch": batch, "step_s": seconds, "images_per_s": batch / seconds}
        )
        print(f"scaling: {model} {batch_sweep_size} px batch {batch}: {seconds * 1000:.0f} ms/step", flush=True)
    if device.type == "cpu" and (os.cpu_count() or 1) >= 2:
        batch = batches[0]
        one = step_seconds(model, size=batch_sweep_size, batch=batch, **common)
        two = step_seconds(model, size=batch_sweep_size, batch=batch, processes=2, **common)
        efficiency = (2 * batch / two) / (batch / one)
        report["ddp"].append(
            {"size": batch_sweep_size, "batch_per_process": batch, "one_process_step_s": one,
             "two_process_step_s": two, "throughput_ratio": efficiency}
        )  # fmt: skip
        print(
            f"scaling: DDP 2 processes vs 1: {one * 1000:.0f} -> {two * 1000:.0f} ms/step, x{efficiency:.2f} images/s"
        )
    return report


def scaling_tables(report: dict[str, Any]) -> str:
    """The three sweeps as Markdown tables."""
    lines = ["| image size | batch | step | ms per megapixel |", "|---|---|---|---|"]
    lines += [
        f"| {r['size']} | 1 | {r['step_s'] * 1000:.0f} ms | {r['ms_per_megapixel']:.0f} |" for r in report["size"]
    ]
    lines += ["", "| image size | batch | step | images/s |", "|---|---|---|---|"]
    lines += [
        f"| {r['size']} | {r['batch']} | {r['step_s'] * 1000:.0f} ms | {r['images_per_s']:.2f} |"
        for r in report["batch"]
    ]
    if report["ddp"]:
        lines += ["", "| setup | batch per process | step | images/s ratio |", "|---|---|---|---|"]
        for r in report["ddp"]:
            lines.append(
                f"| 1 process, all cores | {r['batch_per_process']} | {r['one_process_step_s'] * 1000:.0f} ms | 1.00 |"
            )
            lines.append(
                f"| 2 processes (DDP, gloo) | {r['batch_per_process']} | {r['two_process_step_s'] * 1000:.0f} ms | "
                f"{r['throughput_ratio']:.2f} |"
            )
    return "\n".join(lines)
