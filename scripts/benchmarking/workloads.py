"""The benchmark's workloads (training, inference, data, scaling): each runs this project's path and the plain
reference (reference.py) side by side. Details: docs/modules.md, docs/performance.md.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image
from torch.utils.data import DataLoader

from stylenorm.config_checks import strategy_for_model
from stylenorm.inference.stylizer import SIGNED, ZERO_TO_255, Stylizer
from stylenorm.networks import ResnetGenerator, TransformerNet
from stylenorm.nn.init import init_weights_normal
from stylenorm.speed import resolve_inference_precision, resolve_training_precision, stylize_compile_pays

from . import measure
from . import reference as ref
from .measure import Samples, Timing, interleaved

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
TRAINING = ("cyclegan", "style", "autoencoder")
INFERENCE = ("stylize_style", "stylize_cyclegan")
WORKLOADS = (*TRAINING, *INFERENCE, "data")
DEFAULT_BATCH = {"cyclegan": 1, "style": 4, "autoencoder": 16, "stylize_style": 1, "stylize_cyclegan": 1, "data": 1}

# The paper presets where there is one, else real-data configs, so that the networks are the full-size
# defaults rather than the CPU demo's; precision back to auto (the presets ask for a GPU's bf16-mixed).
_PRESET = {
    "cyclegan": ["model=cyclegan", "experiment=cyclegan_paper", "trainer.precision=auto"],
    "style": ["model=style", "experiment=style_paper", "trainer.precision=auto"],
    "autoencoder": ["model=autoencoder", "data=image_folder"],
}


@dataclasses.dataclass
class Case:
    """One measured comparison: the same work done by the reference and by this project."""

    workload: str
    size: int
    batch: int
    images_per_call: int
    reference: Samples
    project: Samples
    project_precision: str
    notes: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def compose_config(overrides: Sequence[str]) -> Any:
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        return compose("train", overrides=list(overrides))


def random_batch(model: str, batch: int, size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """One batch of random images in the task's batch layout."""
    keys = {"cyclegan": ("A", "B"), "style": ("content",)}.get(model, ("image",))
    return {key: torch.rand(batch, 3, size, size, generator=generator) for key in keys}


class RandomData(pl.LightningDataModule):
    """``steps`` random batches (and, for the style task, a random style image), made up front: no decoding."""

    def __init__(self, model: str, steps: int, batch: int, size: int, generator: torch.Generator):
        super().__init__()
        self.batches = [random_batch(model, batch, size, generator) for _ in range(steps)]
        self.style_image = torch.rand(1, 3, size, size, generator=generator) if model == "style" else None

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.batches, batch_size=None)

    def style_image_tensor(self) -> torch.Tensor | None:
        return self.style_image


class StepTimer(pl.Callback):
    """Training steps: the first for peak memory (untimed, like the reference's), the rest of ``warmup`` untimed,
    then timed ones, each followed by a timed ``reference_step``."""

    def __init__(self, device: torch.device, warmup: int, reference_step: Callable[[], Any] | None = None):
        self.device, self.warmup, self.reference_step = device, max(1, warmup), reference_step
        self.project, self.reference = Samples(), Samples()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            self._memory = measure.PeakMemory(self.device).__enter__()
        measure.synchronize(self.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        measure.synchronize(self.device)
        elapsed = time.perf_counter() - self._start
        if batch_idx == 0:
            self._memory.__exit__()
            self.project.peak_bytes, self.project.first_call_s = self._memory.peak_bytes, elapsed
        elif batch_idx >= self.warmup:
            self.project.times.append(elapsed)
            if self.reference_step is not None:
                measure.timed_call(self.reference_step, self.device, self.reference)


def make_trainer(device: torch.device, precision: str, callbacks: list[pl.Callback], **kwargs: Any) -> pl.Trainer:
    """A Trainer that only trains: no validation, logging, checkpoints or progress bar."""
    # use_distributed_sampler=False: under DDP every process steps through all the (in-memory) batches.
    options = {"accelerator": device.type, "devices": 1, "use_distributed_sampler": False, **kwargs}
    return pl.Trainer(
        precision=precision, max_epochs=1, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks,
        **options,
    )  # fmt: skip


def build_task(model: str, device: torch.device, overrides: Sequence[str] = ()) -> tuple[Any, pl.LightningModule, str]:
    """Config, LightningModule and resolved precision of a training workload (VGG random: no download)."""
    cfg = compose_config([*_PRESET[model], *["model.vgg_weights=random"] * (model == "style"), *overrides])
    return cfg, instantiate(cfg.model), resolve_training_precision(cfg.trainer.precision, device.type)


def training_case(model: str, size: int, batch: int, timing: Timing, overrides: Sequence[str] = ()) -> Case:
    """Project training steps (through ``Trainer.fit``) alternating with reference steps."""
    device = timing.device
    generator = torch.Generator().manual_seed(0)
    cfg, task, precision = build_task(model, device, overrides)
    sample = {key: value.to(device) for key, value in random_batch(model, batch, size, generator).items()}
    if model == "cyclegan":
        reference = ref.ReferenceCycleGAN(device, cfg.model.generator.ngf, cfg.model.generator.n_blocks)
        inputs = [sample["A"] * 2 - 1, sample["B"] * 2 - 1]
    else:
        reference = ref.ReferenceStyleTransfer(device) if model == "style" else ref.ReferenceAutoencoder(device)
        inputs = list(sample.values())
    reference_step = functools.partial(reference.step, *inputs)
    timer = StepTimer(device, timing.warmup, reference_step)
    seconds = measure.memory_call(reference_step, device, timer.reference, flops=True)  # the reference's warm-up
    repeats = measure.affordable_repeats(timing.repeats, seconds, timing.budget_s)
    for _ in range(timer.warmup - 1):
        reference_step()
    trainer = make_trainer(device, precision, [timer], benchmark=cfg.trainer.benchmark)
    trainer.fit(task, datamodule=RandomData(model, timer.warmup + repeats, batch, size, generator))
    notes = ", ".join(
        [f"Lightning {precision}"]
        + ["channels_last"] * task.channels_last
        + ["compiled"] * task.compiled  # speed.compile, with auto resolved
        + ["fused Adam"] * bool(trainer.optimizers[0].defaults.get("fused"))
    )
    return Case(model, size, batch, batch, timer.reference, timer.project, precision, notes)


def step_seconds(model: str, size: int, batch: int, timing: Timing, processes: int = 1) -> float:
    """Median seconds of a project training step (CycleGAN: one iteration) in ``processes`` processes, same batch."""
    # Eager: with speed.compile on (the paper presets) every new shape of the sweep would compile anew.
    _, task, precision = build_task(model, timing.device, ["speed.compile=false"])
    timer = StepTimer(timing.device, timing.warmup)
    data = RandomData(model, timer.warmup + timing.repeats, batch, size, torch.Generator().manual_seed(0))
    if processes == 1:
        make_trainer(timing.device, precision, [timer]).fit(task, datamodule=data)
        return timer.project.median_s
    threads = max(1, torch.get_num_threads() // processes)  # else the processes oversubscribe the cores
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "times.json"

        def save_times(trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            if trainer.is_global_zero:  # forked DDP workers cannot return them
                result.write_text(json.dumps(timer.project.times))

        worker = pl.callbacks.LambdaCallback(
            setup=lambda trainer, pl_module, stage: torch.set_num_threads(threads), on_train_end=save_times
        )
        strategy = strategy_for_model(model, "ddp_fork")
        trainer = make_trainer(timing.device, precision, [worker, timer], devices=processes, strategy=strategy)
        trainer.fit(task, datamodule=data)
        return statistics.median_high(json.loads(result.read_text()))


def scaling_report(model: str, timing: Timing, sizes: list[int], batches: list[int], batch_px: int) -> dict[str, Any]:
    """Step times against image size (batch 1), batch (at ``batch_px``) and, on 2+ CPU cores, 2 DDP processes vs 1."""
    report: dict[str, Any] = {"model": model, "size": [], "batch": [], "ddp": []}
    for sweep, size, batch in [("size", size, 1) for size in sizes] + [("batch", batch_px, b) for b in batches]:
        seconds = step_seconds(model, size, batch, timing)
        row = {"size": size, "batch": batch, "step_s": seconds}
        if sweep == "size":
            row["ms_per_megapixel"] = 1000 * seconds / (size * size / 1e6)
        else:
            row["images_per_s"] = batch / seconds
        report[sweep].append(row)
        print(f"scaling: {model} {size} px batch {batch}: {seconds * 1000:.0f} ms/step", flush=True)
    if timing.device.type == "cpu" and (os.cpu_count() or 1) >= 2:
        batch = batches[0]
        one, two = (step_seconds(model, batch_px, batch, timing, processes) for processes in (1, 2))
        efficiency = 2 * one / two  # images/s of 2 processes over 1's
        report["ddp"].append(
            {"size": batch_px, "batch_per_process": batch, "one_process_step_s": one,
             "two_process_step_s": two, "throughput_ratio": efficiency}
        )  # fmt: skip
        print(
            f"scaling: DDP 2 processes vs 1: {one * 1000:.0f} -> {two * 1000:.0f} ms/step, x{efficiency:.2f} images/s"
        )
    return report


def inference_network(workload: str, device: torch.device) -> tuple[torch.nn.Module, Any]:
    """The workload's network (seeded random weights) and its pixel convention."""
    torch.manual_seed(0)
    if workload == "stylize_cyclegan":
        return init_weights_normal(ResnetGenerator()).eval().to(device), SIGNED
    network = TransformerNet().eval()
    # A random TransformerNet's output sits near 0, which the 0-255 clamp would flatten (and with it the
    # quality column): rescale its last conv so the output spans the gray levels like a trained one's.
    with torch.no_grad():
        last = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        sample = network(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2)) * 255)
        last.weight.mul_(60.0 / sample.std())
        last.bias.add_(127.5 - float(network(torch.rand(1, 3, 64, 64) * 255).mean()))
    return network.to(device), ZERO_TO_255


def inference_case(
    workload: str, size: int, batch: int, timing: Timing, compile: str = "auto", job_images: int = 100
) -> Case:
    """The Stylizer (precision auto, ``--compile compile`` for a job of ``job_images`` such images) against
    ``network(x)`` in fp32 without autograd, on the same weights."""
    device = timing.device
    network, convention = inference_network(workload, device)
    if compile == "auto":  # the stylize command's rule, for a folder of job_images such images
        shapes, reason = stylize_compile_pays({(batch, size, size): job_images * size * size / 1e6})
        compiled, how = bool(shapes), f"--compile auto for {job_images} images: {reason}"
    else:
        compiled, how = compile == "always", f"--compile {compile}"
    stylizer = Stylizer(copy.deepcopy(network), convention, workload, device, compiled=compiled)
    precision = resolve_inference_precision("auto", device)
    pixels = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1)).to(device) * 255
    network_input = convention.to_network(pixels)

    reference = torch.no_grad()(functools.partial(network, network_input))  # how the original test scripts stylize
    samples = interleaved({"reference": reference, "project": lambda: stylizer(pixels, precision)}, timing, "reference")
    # The quality column: how far this project's pixels are from the reference's, in 0-255 gray levels.
    reference_pixels = convention.from_network(samples["reference"].last_result.float())
    difference = (reference_pixels - samples["project"].last_result).abs()
    notes = f"{precision}" + (", compiled (inductor, frozen weights)" if compiled else ", eager") + f" ({how})"
    extra = {
        "mean_abs_diff_gray_levels": float(difference.mean()),
        "max_abs_diff_gray_levels": float(difference.max()),
        "compiled": compiled,
    }
    return Case(workload, size, batch, batch, samples["reference"], samples["project"], precision, notes, extra)


def write_images(folder: Path, count: int, size: int, seed: int, grid: int, suffix: str, **save: Any) -> list[Path]:
    """``count`` smooth random ``size`` px images: ``grid`` x ``grid`` random colours, upscaled bicubically."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = [folder / f"{index:04d}{suffix}" for index in range(count)]
    for path in paths:
        coarse = rng.integers(0, 256, (grid, grid, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((size, size), Image.BICUBIC).save(path, **save)
    return paths


def data_case(size: int, batch: int, timing: Timing, images: int = 64) -> Case:
    """Images decoded + augmented per second: the CycleGAN train loader vs a main-process loop."""
    with tempfile.TemporaryDirectory(prefix="stylenorm-bench-") as root:
        # Like the CycleGAN datasets' 256 px photos: JPEG quality 90.
        files_a = write_images(Path(root) / "trainA", images, size, 0, size // 16, ".jpg", quality=90)
        files_b = write_images(Path(root) / "trainB", images, size, 1, size // 16, ".jpg", quality=90)
        data = [f"data.root={root}", f"data.image_size={size}", f"data.batch_size={batch}"]
        cfg = compose_config([*_PRESET["cyclegan"], *data])
        cfg.data.load_size = load_size = round(size * 286 / 256)
        cfg.data.num_workers = min(int(cfg.data.num_workers), os.cpu_count() or 1)
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()

        def project() -> None:
            for _ in loader:
                pass

        def reference() -> None:
            for path_a, path_b in zip(files_a, files_b, strict=True):
                ref.reference_load(path_a, load_size, size)
                ref.reference_load(path_b, load_size, size)

        # On the CPU and without the time budget, whatever the other workloads run under.
        cpu = Timing(torch.device("cpu"), timing.warmup, timing.repeats)
        samples = interleaved({"reference": reference, "project": project}, cpu)
        notes = f"DataLoader, {cfg.data.num_workers} workers, persistent"
        return Case("data", size, batch, 2 * images, samples["reference"], samples["project"], "-", notes)
