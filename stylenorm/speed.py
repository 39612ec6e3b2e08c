"""Where speed is decided: precision, memory format, torch.compile, the Adam kernel and CPU threads; ``auto`` picks
what measured faster on that hardware (docs/performance.md; the rules: docs/modules.md).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import platform
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from lightning_utilities.core.apply_func import apply_to_collection
from torch import nn

from stylenorm.cores import usable_cores

AUTO = "auto"
#: CPU flags that change what a CPU run computes or how fast (vector width, bf16 and matrix units).
_SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "asimd", "sve")


def _cpuinfo(*fields: str) -> str | None:
    """The value of the first ``/proc/cpuinfo`` line naming one of ``fields``; None where there is none."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.partition(":")[2].strip() for line in lines if line.startswith(fields)), None)


def cpu_name() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> list[str]:
    """The :data:`_SPEED_FLAGS` this CPU has (empty outside Linux)."""
    present = set((_cpuinfo("flags", "Features") or "").split())
    return [flag for flag in _SPEED_FLAGS if flag in present]


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """Native bf16 arithmetic (AVX-512 BF16 or AMX); oneDNN's bf16 on plain AVX-512 saves memory, not time."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags()))


def has_fast_bf16(device: str | torch.device) -> bool:
    """Whether bf16 autocast is expected to be faster than fp32 on ``device``."""
    device = torch.device(device)
    if device.type != "cuda":
        return device.type == "cpu" and cpu_has_fast_bf16()
    # Native bf16 only: ROCm, or compute capability 8.0+. torch.cuda.is_bf16_supported() is also
    # true where bf16 is emulated (T4, V100), which is slower than fp32.
    return torch.cuda.is_available() and (bool(torch.version.hip) or torch.cuda.get_device_capability(device)[0] >= 8)


def resolve_training_precision(precision: Any, accelerator: str | None) -> str:
    """``trainer.precision``: ``auto`` -> ``bf16-mixed`` where bf16 is fast, else ``32-true``; others unchanged."""
    if str(precision) != AUTO:
        return str(precision)
    if accelerator in (None, "auto"):
        accelerator = "cuda" if torch.cuda.is_available() else "cpu"
    return "bf16-mixed" if has_fast_bf16("cuda" if accelerator == "gpu" else str(accelerator)) else "32-true"


def resolve_inference_precision(precision: str, device: str | torch.device) -> str:
    """Stylize ``--precision``: ``auto`` -> ``bf16`` where bf16 is fast, else ``fp32``; others unchanged."""
    if precision != AUTO:
        return precision
    return "bf16" if has_fast_bf16(device) else "fp32"


@dataclasses.dataclass(frozen=True)
class SpeedOptions:
    """The training speed switches, as ``configs/speed/default.yaml`` documents them."""

    channels_last: bool | str = AUTO
    compile: bool | str = AUTO
    compile_mode: str | None = None
    fused_adam: bool | str = AUTO
    num_threads: int | str = AUTO

    def __post_init__(self) -> None:
        for name in ("channels_last", "fused_adam", "compile"):
            value = getattr(self, name)
            if not isinstance(value, bool) and value != AUTO:
                raise ValueError(f"speed.{name} must be true, false or auto, got {value!r}.")
        threads = self.num_threads
        if threads != AUTO and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"speed.num_threads must be a positive int or auto, got {threads!r}.")

    @classmethod
    def from_config(cls, config: SpeedOptions | Mapping[str, Any] | None) -> SpeedOptions:
        if isinstance(config, SpeedOptions):
            return config
        config = dict(config or {})
        known = {field.name for field in dataclasses.fields(cls)}
        if unknown := sorted(set(config) - known):
            raise ValueError(f"Unknown speed options {unknown}; expected {', '.join(sorted(known))}.")
        return cls(**config)

    def use_channels_last(self, device: str | torch.device) -> bool:
        """NHWC networks and batches; ``auto``: on CUDA only."""
        return torch.device(device).type == "cuda" if self.channels_last == AUTO else bool(self.channels_last)


#: ``speed.compile=auto`` compiles runs planning this many megapixels (steps x batch x H x W / 1e6), docs/performance.md
COMPILE_MIN_MEGAPIXELS = 300.0


def compile_pays(steps: int | float, batch_size: int, image_size: int) -> tuple[bool, str]:
    """``speed.compile=auto``'s rule for a run of ``steps`` steps, and the reason in words (logged)."""
    if steps is None or steps == float("inf") or steps < 0:
        return True, "the run length is open-ended"
    megapixels = steps * batch_size * image_size * image_size / 1e6
    planned = f"{steps:.0f} steps x {batch_size} x {image_size}x{image_size} px = {megapixels:,.2f} megapixels planned"
    if megapixels >= COMPILE_MIN_MEGAPIXELS:
        return True, f"{planned} >= {COMPILE_MIN_MEGAPIXELS:g}, enough to repay compiling"
    return False, (
        f"{planned} < {COMPILE_MIN_MEGAPIXELS:g}, too little to repay compiling (set speed.compile=true to force it)"
    )


#: ``--compile auto`` of the stylize command compiles for a shape run through this many megapixels; docs/performance.md.
STYLIZE_COMPILE_MIN_MEGAPIXELS = 25.0


def stylize_compile_pays(megapixels_by_shape: Mapping[tuple[int, ...], float]) -> tuple[frozenset, str]:
    """``--compile auto``'s rule: the ``(N, H, W)`` shapes worth compiling for, and the reason in words."""
    threshold = STYLIZE_COMPILE_MIN_MEGAPIXELS
    chosen = frozenset(shape for shape, mp in megapixels_by_shape.items() if mp >= threshold)
    total = sum(megapixels_by_shape.values())
    if not megapixels_by_shape:
        return chosen, "no untiled image to plan for"
    if not chosen:
        most = max(megapixels_by_shape.values())
        return chosen, (
            f"{total:,.1f} megapixels in {len(megapixels_by_shape)} shape(s), at most {most:,.1f} in one < "
            f"{threshold:g}: too little to repay compiling (--compile always forces it)"
        )
    shapes = ", ".join(
        f"{shape[-1]}x{shape[-2]} px" + (f" (batch {shape[0]})" if shape[0] > 1 else "")
        for shape in sorted(chosen, key=lambda s: -megapixels_by_shape[s])
    )
    chosen_mp = sum(megapixels_by_shape[shape] for shape in chosen)
    reason = f"{chosen_mp:,.1f} of {total:,.1f} megapixels in shapes with >= {threshold:g} each: compiling for {shapes}"
    rest = len(megapixels_by_shape) - len(chosen)
    return chosen, reason + (f"; {rest} other shape(s) run eager" if rest else "")


def threads_per_run(num_threads: int | str, parallel_runs: int | None) -> int | None:
    """``num_threads``; ``auto``: the usable cores shared among ``parallel_runs`` runs, None (torch's) for one run."""
    if num_threads != AUTO:
        return int(num_threads)
    if not parallel_runs or parallel_runs <= 1:
        return None
    return max(1, usable_cores() // parallel_runs)


def set_threads(num_threads: int | str) -> None:
    """This run's CPU threads (``speed.num_threads``), given the runs hydra/launcher=parallel starts at once."""
    from hydra.core.hydra_config import HydraConfig

    parallel_runs = None
    if HydraConfig.initialized() and "joblib" in str(HydraConfig.get().launcher.get("_target_", "")).lower():
        n_jobs = int(HydraConfig.get().launcher.n_jobs)
        parallel_runs = usable_cores() if n_jobs < 0 else n_jobs  # joblib's -1: all cores
    threads = threads_per_run(num_threads, parallel_runs)
    if threads is not None:
        torch.set_num_threads(threads)
        logging.getLogger(__name__).info("Using %d CPU thread(s) (speed.num_threads=%s).", threads, num_threads)


def quiet_library_noise() -> None:
    """One copy of each log line, and no warnings a user can do nothing about."""
    if logging.getLogger().handlers:  # Lightning adds its own console handler; under Hydra the root one prints
        logging.getLogger("lightning").handlers.clear()
    for message in (
        r".*isinstance\(treespec, LeafSpec\).*",  # Lightning-internal deprecation
        r".*ModelCheckpoint with manual optimization.*",  # CycleGAN checkpoints after its optimizer steps
        r".*overridden `on_after_batch_transfer` in `LightningModule`.*",  # channels_last in the task hook
        r".*is not supported by the model summary.*",  # bf16 models: the counts printed are still right
        r".*module\(s\) in eval mode at the start of training.*",  # the style task's frozen VGG
    ):
        warnings.filterwarnings("ignore", message=message)
    quiet_compiler_notes()


def adam(params: Iterable[nn.Parameter], *, lr: float, fused: bool | str = AUTO, **options: Any) -> torch.optim.Adam:
    """``torch.optim.Adam``, fused where asked or (``auto``) where torch has a fused kernel for the parameters."""
    params = list(params)
    if fused == AUTO:
        supported = torch.utils._foreach_utils._get_fused_kernels_supported_devices()
        fused = bool(params) and all(p.device.type in supported and p.dtype.is_floating_point for p in params)
    return torch.optim.Adam(params, lr=lr, fused=bool(fused) or None, **options)


def to_channels_last(value: Any) -> Any:
    """4-D tensors (also inside dicts, lists and tuples) in channels_last memory format."""
    nhwc = functools.partial(torch.Tensor.contiguous, memory_format=torch.channels_last)
    return apply_to_collection(value, torch.Tensor, lambda tensor: nhwc(tensor) if tensor.dim() == 4 else tensor)


def quiet_compiler_notes() -> None:
    """Silence inductor's "No CUDA runtime is found, using CUDA_HOME=..." on every CPU compile of a CUDA build."""
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


def compile_for_inference(network: nn.Module) -> nn.Module:
    """``torch.compile`` an eval-mode network with inductor's weight freezing; recompiles for each new input size."""
    quiet_compiler_notes()
    return torch.compile(network.eval(), dynamic=False, options={"freezing": True})
