"""The benchmark's workloads: each runs this project's path and the plain reference side by side.

Training (``cyclegan``, ``style``, ``autoencoder``): the LightningModule composed from ``configs/``
inside a real ``Trainer.fit``, alternating step by step with :mod:`stylenorm.benchmark.reference`.
Inference (``stylize_style``, ``stylize_cyclegan``): the :class:`~stylenorm.inference.Stylizer`
against ``network(x)`` in fp32. Data (``data``): the CycleGAN train loader against decoding the same
JPEGs one by one. Details: docs/performance.md.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image
from torch.utils.data import DataLoader

from stylenorm.benchmark.measure import (
    PeakMemory,
    Samples,
    affordable_repeats,
    interleaved,
    memory_call,
    synchronize,
    timed_call,
)
from stylenorm.benchmark.reference import (
    ReferenceAutoencoder,
    ReferenceCycleGAN,
    ReferenceStyleTransfer,
    reference_inference,
    reference_load,
)
from stylenorm.inference.conventions import SIGNED, ZERO_TO_255
from stylenorm.inference.stylizer import Stylizer
from stylenorm.networks import ResnetGenerator, TransformerNet
from stylenorm.nn.init import init_weights_normal
from stylenorm.speed import resolve_inference_precision, resolve_training_precision, stylize_compile_pays

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
TRAINING = ("cyclegan", "style", "autoencoder")
INFERENCE = ("stylize_style", "stylize_cyclegan")
WORKLOADS = (*TRAINING, *INFERENCE, "data")
DEFAULT_BATCH = {"cyclegan": 1, "style": 4, "autoencoder": 16, "stylize_style": 1, "stylize_cyclegan": 1, "data": 1}

# The paper presets where there is one, else real-data configs, so that the networks are the full-size
# defaults rather than the CPU demo's. Precision back to auto (the presets ask for a GPU's bf16-mixed),
# and eager by default: the presets' torch.compile costs minutes of compiling on 2 cores, more than
# the default run's 10 minutes allow; `--override speed.compile=true` measures it (docs/performance.md).
_PRESET = {
    "cyclegan": ["experiment=cyclegan_paper", "trainer.precision=auto"],
    "style": ["experiment=style_paper", "trainer.precision=auto"],
    "autoencoder": ["data=image_folder"],
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
    flops: int | None = None
    notes: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def compose_config(model: str, overrides: list[str] = ()) -> Any:
    """The training config of ``python train.py experiment=<model>_paper <overrides>`` (the autoencoder:
    ``model=autoencoder data=image_folder``)."""
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        return compose("train", overrides=[f"model={model}", *_PRESET[model], *overrides])


class InMemoryData(pl.LightningDataModule):
    """Pre-made batches (and a style image for the style task); no decoding."""

    def __init__(self, batches: list[dict[str, torch.Tensor]], style_image: torch.Tensor | None = None):
        super().__init__()
        self.batches = batches
        self.style_image = style_image

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.batches, batch_size=None)

    def style_image_tensor(self) -> torch.Tensor:
        return self.style_image


class StepTimer(pl.Callback):
    """Measures the project's training steps: the first one for peak memory (untimed, like the
    reference's first call it is compared with: both allocate Adam's moments there), the rest of
    ``warmup`` untimed, then timed steps, each followed by one timed reference step when
    ``reference_step`` is given, so that the two alternate. Train for ``steps_needed(repeats)``."""

    def __init__(self, device: torch.device, warmup: int, reference_step: Callable[[], Any] | None = None):
        self.reference_step = reference_step
        self.device = device
        self.warmup = max(1, warmup)
        self.project = Samples()
        self.reference = Samples()

    def steps_needed(self, repeats: int) -> int:
        return self.warmup + repeats

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        synchronize(self.device)
        if batch_idx == 0:
            self._memory = PeakMemory(self.device).__enter__()
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        synchronize(self.device)
        elapsed = time.perf_counter() - self._start
        if batch_idx == 0:
            self._memory.__exit__(None, None, None)
            self.project.peak_bytes = self._memory.peak_bytes
            self.project.first_call_s = elapsed
        if batch_idx < self.warmup:
            return
        self.project.times.append(elapsed)
        if self.reference_step is not None:
            timed_call(self.reference_step, self.device, self.reference)


def make_trainer(device: torch.device, precision: str, callbacks: list[pl.Callback], **kwargs: Any) -> pl.Trainer:
    """A Trainer that only trains: no validation, logging, checkpoints or progress bar."""
    options = {"accelerator": device.type, "devices": 1, **kwargs}
    return pl.Trainer(
        precision=precision,
        max_epochs=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
        **options,
    )


def random_batch(model: str, batch: int, size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """One batch of random images in the task's batch layout."""

    def images() -> torch.Tensor:
        return torch.rand(batch, 3, size, size, generator=generator)

    if model == "cyclegan":
        return {"A": images(), "B": images()}
    return {"content": images()} if model == "style" else {"image": images()}


def random_data(model: str, steps: int, batch: int, size: int, generator: torch.Generator) -> InMemoryData:
    """``steps`` random batches (and, for the style task, a random style image)."""
    batches = [random_batch(model, batch, size, generator) for _ in range(steps)]
    style_image = torch.rand(1, 3, size, size, generator=generator) if model == "style" else None
    return InMemoryData(batches, style_image)


def build_task(model: str, device: torch.device, overrides: list[str] = ()) -> tuple[Any, pl.LightningModule, str]:
    """Config, LightningModule and resolved precision of a training workload (VGG random: no download)."""
    cfg = compose_config(model, ["model.vgg_weights=random"] * (model == "style") + list(overrides))
    return cfg, instantiate(cfg.model), resolve_training_precision(cfg.trainer.precision, device.type)


def training_case(
    model: str,
    *,
    size: int,
    batch: int,
    device: torch.device,
    warmup: int,
    repeats: int,
    overrides: list[str] = (),
    budget_s: float | None = None,
) -> Case:
    """Project training steps (through ``Trainer.fit``) alternating with reference steps."""
    generator = torch.Generator().manual_seed(0)
    cfg, task, precision = build_task(model, device, overrides)
    sample = {key: value.to(device) for key, value in random_batch(model, batch, size, generator).items()}
    if model == "cyclegan":
        reference = ReferenceCycleGAN(device, cfg.model.generator.ngf, cfg.model.generator.n_blocks)
        real_A, real_B = sample["A"] * 2 - 1, sample["B"] * 2 - 1

        def reference_step():
            return reference.step(real_A, real_B)
    elif model == "style":
        reference = ReferenceStyleTransfer(device)

        def reference_step():
            return reference.step(sample["content"])
    else:
        reference = ReferenceAutoencoder(device)

        def reference_step():
            return reference.step(sample["image"])

    timing = StepTimer(device, warmup, reference_step)
    start = time.perf_counter()  # the reference's first call: warm-up, FLOPs and memory
    memory_call(reference_step, device, timing.reference, flops=True)
    repeats = affordable_repeats(repeats, time.perf_counter() - start, budget_s)
    for _ in range(timing.warmup - 1):
        reference_step()
    trainer = make_trainer(device, precision, [timing], benchmark=cfg.trainer.benchmark)
    trainer.fit(task, datamodule=random_data(model, timing.steps_needed(repeats), batch, size, generator))
    notes = ", ".join(
        [f"Lightning {precision}"]
        + ["channels_last"] * task.channels_last
        + ["compiled"] * task.compiled  # speed.compile, with auto resolved
        + ["fused Adam"] * bool(trainer.optimizers[0].defaults.get("fused"))
    )
    return Case(model, size, batch, batch, timing.reference, timing.project, precision, timing.reference.flops, notes)


def _inference_network(workload: str, device: torch.device):
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
    workload: str,
    *,
    size: int,
    batch: int,
    device: torch.device,
    warmup: int,
    repeats: int,
    compile: str = "auto",
    job_images: int = 100,
    precision: str = "auto",
    budget_s: float | None = None,
) -> Case:
    """The Stylizer (``precision``; compiled as ``--compile compile`` decides for a job of ``job_images``
    images of this size) against ``network(x)`` in fp32 on the same weights."""
    network, convention = _inference_network(workload, device)
    if compile == "auto":  # the stylize command's rule, for a folder of job_images such images
        shapes, reason = stylize_compile_pays({(batch, size, size): job_images * size * size / 1e6})
        compiled, how = bool(shapes), f"--compile auto for {job_images} images: {reason}"
    else:
        compiled, how = compile == "always", f"--compile {compile}"
    stylizer = Stylizer(copy.deepcopy(network), convention, workload, device, compiled=compiled)
    precision = resolve_inference_precision(precision, device)
    pixels = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1)).to(device) * 255
    network_input = convention.to_network(pixels)
    paths = {
        "reference": lambda: reference_inference(network, network_input),
        "project": lambda: stylizer(pixels, precision),
    }
    samples = interleaved(paths, device, warmup=warmup, repeats=repeats, reference="reference", budget_s=budget_s)
    flops = samples["reference"].flops
    # The quality column: how far this project's pixels are from the reference's, in 0-255 gray levels.
    reference_pixels = convention.from_network(samples["reference"].last_result.float())
    difference = (reference_pixels - samples["project"].last_result).abs()
    notes = f"{precision}" + (", compiled (inductor, frozen weights)" if compiled else ", eager") + f" ({how})"
    extra = {
        "mean_abs_diff_gray_levels": float(difference.mean()),
        "max_abs_diff_gray_levels": float(difference.max()),
        "compiled": compiled,
    }
    return Case(workload, size, batch, batch, samples["reference"], samples["project"], precision, flops, notes, extra)


def _write_jpegs(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    """``count`` smooth random ``size`` px JPEGs (quality 90), like the CycleGAN datasets' 256 px photos."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        coarse = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
        paths.append(folder / f"{i:04d}.jpg")
        image.save(paths[-1], quality=90)
    return paths


def data_case(
    *, size: int, batch: int, warmup: int, repeats: int, images: int = 64, budget_s: float | None = None
) -> Case:
    """Images decoded + augmented per second: the CycleGAN train loader vs a main-process loop."""
    with tempfile.TemporaryDirectory(prefix="stylenorm-bench-") as root:
        files_a = _write_jpegs(Path(root) / "trainA", images, size, seed=0)
        files_b = _write_jpegs(Path(root) / "trainB", images, size, seed=1)
        cfg = compose_config("cyclegan", [f"data.root={root}", f"data.image_size={size}", f"data.batch_size={batch}"])
        cfg.data.load_size = round(size * 286 / 256)
        cfg.data.num_workers = min(int(cfg.data.num_workers), os.cpu_count() or 1)
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()
        load_size = cfg.data.load_size

        def project() -> None:
            for _ in loader:
                pass

        def reference() -> None:
            for path_a, path_b in zip(files_a, files_b, strict=True):
                reference_load(path_a, load_size, size)
                reference_load(path_b, load_size, size)

        samples = interleaved(
            {"reference": reference, "project": project}, torch.device("cpu"), warmup=warmup, repeats=repeats
        )
        notes = f"DataLoader, {cfg.data.num_workers} workers, persistent"
        return Case("data", size, batch, 2 * images, samples["reference"], samples["project"], "-", None, notes)
