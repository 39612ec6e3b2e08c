"""Whole stylize jobs: the command's wall time under ``--compile auto`` against ``--compile never``.

A fresh ``stylenorm-stylize`` process per job, over a folder of images of one size, with a cold inductor
cache; ``never`` and ``auto`` alternate run by run. Why: docs/modules.md; results: docs/performance.md.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from stylenorm.benchmark.workloads import inference_network, write_images
from stylenorm.networks.public_checkpoints import transformer_net_to_fast_neural_style
from stylenorm.speed import STYLIZE_COMPILE_MIN_MEGAPIXELS

MODES = ("never", "auto")


def threshold_images(size: int) -> int:
    """The fewest images of ``size`` px whose megapixels reach the ``--compile auto`` threshold."""
    return math.ceil(STYLIZE_COMPILE_MIN_MEGAPIXELS * 1e6 / (size * size))


def run_job(checkpoint: Path, folder: Path, output: Path, mode: str, device: str, cache: Path) -> tuple[float, str]:
    """Wall time of one stylize process and its ``--compile auto`` line (or ``eager``/``compiled``)."""
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "stylenorm.inference.cli", "-c", str(checkpoint), "-i", str(folder)]
    command += ["-o", str(output), "--device", device, "--compile", mode]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"stylize failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    decision = next((line.split("--compile auto: ", 1)[1] for line in result.stdout.splitlines()
                     if "--compile auto: " in line), "eager")  # fmt: skip
    return seconds, decision


def stylize_jobs_report(size: int, counts: list[int] | None, device: torch.device, repeats: int = 3) -> dict[str, Any]:
    """Times ``never`` and ``auto`` for jobs of each count (default: 1, 4 and the threshold's count);
    jobs under the threshold ``repeats`` times each, alternating, for medians (a process start varies by
    a few tenths of a second, as much as the differences looked for), longer ones once."""
    counts = counts or [1, 4, threshold_images(size)]
    network, _ = inference_network("stylize_style", torch.device("cpu"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="stylenorm-jobs-") as root:
        root = Path(root)
        checkpoint = root / "style.pth"
        torch.save(transformer_net_to_fast_neural_style(network.state_dict()), checkpoint)
        for count in counts:
            folder = root / f"in{count}"
            write_images(folder, count, size, count, max(2, size // 32), ".png")
            row: dict[str, Any] = {"images": count, "size": size, "megapixels": count * size * size / 1e6}
            times: dict[str, list[float]] = {mode: [] for mode in MODES}
            for _ in range(repeats if count < threshold_images(size) else 1):
                for mode in MODES:
                    cache = Path(tempfile.mkdtemp(prefix="inductor-", dir=root))  # cold: nothing compiled yet
                    output = root / f"out-{mode}-{count}"
                    seconds, decision = run_job(checkpoint, folder, output, mode, str(device), cache)
                    times[mode].append(seconds)
                    if mode == "auto":
                        row["decision"] = decision
                    print(f"  {count} images, --compile {mode}: {seconds:.1f} s", flush=True)
            for mode in MODES:
                row[f"{mode}_s"] = statistics.median(times[mode])
                row[f"{mode}_times_s"] = times[mode]
            row["auto_over_never"] = row["auto_s"] / row["never_s"]
            rows.append(row)
    return {"threshold_megapixels": STYLIZE_COMPILE_MIN_MEGAPIXELS, "repeats": repeats, "rows": rows}
