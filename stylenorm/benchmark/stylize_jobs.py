"""Whole stylize jobs: the command's wall time under ``--compile auto`` against ``--compile never``.

Times what a user waits for (a fresh ``stylenorm-stylize`` process over a folder of images of one
size): a short job under ``auto`` must cost no more than ``never``, and a job just past
:data:`stylenorm.speed.STYLIZE_COMPILE_MIN_MEGAPIXELS` should be no slower even with a cold inductor
cache. ``never`` and ``auto`` alternate run by run. Targets and results: docs/performance.md.
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

import numpy as np
import torch
from PIL import Image

from stylenorm.networks.public_checkpoints import transformer_net_to_fast_neural_style
from stylenorm.speed import STYLIZE_COMPILE_MIN_MEGAPIXELS

MODES = ("never", "auto")


def threshold_images(size: int) -> int:
    """The fewest images of ``size`` px whose megapixels reach the ``--compile auto`` threshold."""
    return math.ceil(STYLIZE_COMPILE_MIN_MEGAPIXELS * 1e6 / (size * size))


def write_folder(folder: Path, count: int, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for index in range(count):
        coarse = rng.integers(0, 256, (max(2, size // 32), max(2, size // 32), 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((size, size), Image.BICUBIC).save(folder / f"{index:04d}.png")


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
    from stylenorm.benchmark.workloads import _inference_network

    counts = counts or [1, 4, threshold_images(size)]
    network, _ = _inference_network("stylize_style", torch.device("cpu"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="stylenorm-jobs-") as root:
        root = Path(root)
        checkpoint = root / "style.pth"
        torch.save(transformer_net_to_fast_neural_style(network.state_dict()), checkpoint)
        for count in counts:
            folder = root / f"in{count}"
            write_folder(folder, count, size)
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


def stylize_jobs_table(report: dict[str, Any]) -> str:
    lines = [
        f"Stylize jobs (TransformerNet, one fresh process each, cold inductor cache; --compile auto threshold "
        f"{report['threshold_megapixels']:g} megapixels per shape; medians of {report['repeats']} alternating runs "
        f"for jobs under it, one run above)",
        "",
        "| images | size | megapixels | --compile never | --compile auto | auto / never | auto decided |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['images']} | {row['size']} | {row['megapixels']:.1f} | {row['never_s']:.1f} s | "
            f"{row['auto_s']:.1f} s | {row['auto_over_never']:.2f} | {row['decision']} |"
        )
    return "\n".join(lines)
