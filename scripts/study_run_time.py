"""Where a study run's wall time goes: process start, imports, data, training steps, validation,
checkpoints and callbacks, against the arithmetic of its steps (docs/performance.md, "Where a study
run's time goes").

    python scripts/study_run_time.py                          # experiment=ablation_autoencoder norm=batch
    python scripts/study_run_time.py --callbacks default      # with the default callbacks instead of `study`
    python scripts/study_run_time.py trainer.max_steps=200    # any train.py override after the options

One run, composed as ``python train.py experiment=<preset>`` composes it, with a profiler that records
Lightning's hooks; the compute floor is the same network's training step (forward, backward, Adam)
on batches already in memory, timed in a loop, and its FLOPs (``torch.utils.flop_counter``).
Prints a table of seconds per part and writes it as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _subprocess_seconds(code: str, repeats: int = 3) -> float:
    """Best wall time of ``python -c code`` in a fresh interpreter."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        best = min(best, time.perf_counter() - start)
    return best


def _profiler_class():
    from lightning.pytorch.profilers import SimpleProfiler

    class RecordingProfiler(SimpleProfiler):
        """SimpleProfiler that keeps its last instance, so the durations can be read after ``run``."""

        last = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            RecordingProfiler.last = self

    return RecordingProfiler


def _group(durations: dict[str, list[float]]) -> dict[str, float]:
    """Seconds per part of a run, from the profiler's action names (a hook can be in one part only)."""
    parts: dict[str, float] = defaultdict(float)
    for action, values in durations.items():
        total = sum(values)
        if action == "run_training_batch":
            parts["training steps (forward, backward, optimizer)"] += total
        elif action.startswith("[_TrainingEpochLoop].train_dataloader_next"):
            parts["training batches (load, decode, known answer)"] += total
        elif action.startswith("[_EvaluationLoop].val_next"):
            parts["validation batches (load)"] += total
        elif action.startswith("[Strategy]") and "validation_step" in action:
            parts["validation steps (forward, metrics, images)"] += total
        elif action.startswith("[Callback]") and ("Checkpoint" in action):
            parts["checkpoint callbacks (writes)"] += total
        elif action.startswith("[Callback]"):
            name = action.split("]", 1)[1].split(".", 1)[0]
            parts[f"callback {name}"] += total
        elif action.startswith("[LightningModule]") and "on_validation_epoch_end" in action:
            parts["validation epoch end (metrics, grids, logging)"] += total
        elif action.startswith("[LightningDataModule]") or action.endswith("setup"):
            parts["data setup"] += total
    return dict(parts)


def _compute_floor(cfg, steps: int = 20) -> dict[str, float]:
    """Seconds per training step of the run's network on in-memory batches, and its FLOPs."""
    import torch
    from hydra.utils import instantiate
    from torch.utils.flop_counter import FlopCounterMode

    task = instantiate(cfg.model)
    network = task.network if hasattr(task, "network") else task
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    batch = torch.rand(cfg.data.batch_size, 3, cfg.data.image_size, cfg.data.image_size)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.l1_loss(network(batch), batch).backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    with torch.no_grad(), FlopCounterMode(display=False) as forward:
        network(batch)
    return {
        "step_seconds": seconds,
        "step_flops": counter.get_total_flops(),
        "forward_flops": forward.get_total_flops(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="ablation_autoencoder")
    parser.add_argument("--callbacks", default="study", help="the callbacks config of the run (study | default)")
    parser.add_argument("--json", type=Path, help="also write the table here")
    parser.add_argument("overrides", nargs="*", help="train.py overrides (default: norm=batch seed=0)")
    args = parser.parse_args(argv)

    load = os.getloadavg()
    start = _subprocess_seconds("pass")
    imports = _subprocess_seconds("import stylenorm.train") - start

    from hydra import compose, initialize_config_dir

    from stylenorm.data.embedded import materialize_embedded
    from stylenorm.train import run

    profiler = _profiler_class()
    sys.modules["study_run_time_profiler"] = sys.modules[__name__]
    globals()["RecordingProfiler"] = profiler
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [
            f"experiment={args.experiment}",
            f"callbacks={args.callbacks}",
            f"paths.data_dir={tmp}/data",
            f"paths.log_dir={tmp}/logs",
            f"paths.checkpoint_dir={tmp}/checkpoints",
            "trainer.enable_progress_bar=false",
            "+trainer.profiler._target_=study_run_time_profiler.RecordingProfiler",
            f"+trainer.profiler.dirpath={tmp}",  # its table goes to a file, not the terminal
            "+trainer.profiler.filename=profile",
            *(args.overrides or ["norm=batch", "seed=0"]),
        ]
        with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
            cfg = compose("train", overrides=overrides)
        began = time.perf_counter()
        materialize_embedded(cfg.data.embedded, cfg.data.embedded_root)
        build = time.perf_counter() - began
        began = time.perf_counter()
        run(cfg)
        wall = time.perf_counter() - began
        parts = _group(profiler.last.recorded_durations)
        steps = len(profiler.last.recorded_durations.get("run_training_batch", []))
        ends = [a for a in profiler.last.recorded_durations if "on_validation_epoch_end" in a]
        validations = len(profiler.last.recorded_durations[ends[0]]) if ends else 0
        floor = _compute_floor(cfg)
    accounted = sum(parts.values())
    compute = floor["step_seconds"] * steps
    rows = {
        "process start (python)": start,
        "imports (stylenorm.train: torch, Lightning, Hydra)": imports,
        "embedded data, first build (once per machine)": build,
        **parts,
        "rest of the run (Trainer set-up, logging, loop overhead)": wall - accounted,
    }
    total = start + imports + wall
    print(f"{args.experiment} ({' '.join(args.overrides or ['norm=batch', 'seed=0'])}), callbacks={args.callbacks}")
    print(f"load average before the run (other processes share the cores): {load[0]:.2f}")
    print(f"{steps} training steps, {validations} validations; run {wall:.1f} s, process total {total:.1f} s")
    for name, seconds in rows.items():
        print(f"  {name:58s} {seconds:8.2f} s")
    print(
        f"compute floor: {floor['step_seconds'] * 1e3:.1f} ms/step x {steps} = {compute:.1f} s "
        f"({floor['step_flops'] / 1e9:.2f} GFLOP/step, "
        f"{floor['step_flops'] / floor['step_seconds'] / 1e9:.1f} GFLOP/s); "
        f"wall / compute = {total / compute:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "steps": steps, "validations": validations, "wall": wall,
                                         "total": total, "floor": floor}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
