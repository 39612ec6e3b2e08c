"""Where speed is decided: precision, memory format, torch.compile and the Adam kernel.

Every switch is a config value (``configs/speed/default.yaml``, flags of the stylize command) whose
``auto`` setting picks what measured faster on that kind of hardware: bf16 autocast where the
hardware has bf16 (norm statistics and losses stay fp32), channels_last on CUDA only, compile when
the planned work repays it (:func:`compile_pays`, :func:`stylize_compile_pays`), fused Adam.
The measurements behind each default: docs/performance.md; the rules in full: docs/modules.md.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylenorm.cores import usable_cores

AUTO = "auto"


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 arithmetic (AVX-512 BF16 or AMX), from ``/proc/cpuinfo``.

    oneDNN also runs bf16 on plain AVX-512 by converting to fp32, which saves memory but not time,
    so only the native instructions count. Not Linux: False (fp32, the safe choice).
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in (" avx512_bf16", " amx_bf16"))


def has_fast_bf16(device: str | torch.device) -> bool:
    """Whether bf16 autocast is expected to be faster than fp32 on ``device``."""
    device = torch.device(device)
    if device.type == "cuda":
        # Native bf16 only: ROCm, or compute capability 8.0+ (Ampere on). torch.cuda.is_bf16_supported()
        # is also true where bf16 is merely emulated (T4, V100), which is slower than fp32.
        if not torch.cuda.is_available():
            return False
        return bool(torch.version.hip) or torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        return cpu_has_fast_bf16()
    return False


def accelerator_device(accelerator: str | None) -> torch.device:
    """The device a Lightning ``accelerator`` value (``auto``, ``cpu``, ``gpu``, ``cuda``) trains on."""
    if accelerator in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if accelerator in ("gpu", "cuda"):
        return torch.device("cuda")
    return torch.device(str(accelerator))


def resolve_training_precision(precision: Any, accelerator: str | None) -> str:
    """``trainer.precision``: ``auto`` -> ``bf16-mixed`` where bf16 is fast, else ``32-true``; others unchanged."""
    if str(precision) != AUTO:
        return str(precision)
    return "bf16-mixed" if has_fast_bf16(accelerator_device(accelerator)) else "32-true"


def resolve_inference_precision(precision: str, device: str | torch.device) -> str:
    """Stylize ``--precision``: ``auto`` -> ``bf16`` where bf16 is fast, else ``fp32``; others unchanged."""
    if precision != AUTO:
        return precision
    return "bf16" if has_fast_bf16(device) else "fp32"


def _flag(value: bool | str, name: str) -> bool | str:
    if isinstance(value, bool) or value == AUTO:
        return value
    raise ValueError(f"speed.{name} must be true, false or auto, got {value!r}.")


@dataclasses.dataclass(frozen=True)
class SpeedOptions:
    """The training speed switches of ``configs/speed/default.yaml`` (see the module docstring).

    Attributes:
        channels_last: NHWC memory format for networks and batches (``auto``: on CUDA only).
        compile: ``torch.compile`` every network (and the VGG loss network) before training; ``auto``:
            when the planned work repays it (:func:`compile_pays`).
        compile_mode: ``torch.compile`` mode (``null`` = default; ``max-autotune`` enables CUDA graphs).
        fused_adam: the fused Adam kernel (``auto``: where torch has one for the parameters' device).
        num_threads: CPU threads of one run (``torch.set_num_threads``); ``auto``: the machine's cores
            shared out among the runs a parallel sweep launcher starts at once
            (:func:`threads_per_run`), torch's default otherwise.
    """

    channels_last: bool | str = AUTO
    compile: bool | str = AUTO
    compile_mode: str | None = None
    fused_adam: bool | str = AUTO
    num_threads: int | str = AUTO

    def __post_init__(self) -> None:
        _flag(self.channels_last, "channels_last")
        _flag(self.fused_adam, "fused_adam")
        _flag(self.compile, "compile")
        if self.num_threads != AUTO and (
            isinstance(self.num_threads, bool) or not isinstance(self.num_threads, int) or self.num_threads < 1
        ):
            raise ValueError(f"speed.num_threads must be a positive int or auto, got {self.num_threads!r}.")

    @classmethod
    def from_config(cls, config: SpeedOptions | Mapping[str, Any] | None) -> SpeedOptions:
        if isinstance(config, SpeedOptions):
            return config
        config = dict(config or {})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"Unknown speed options {unknown}; expected {', '.join(sorted(known))}.")
        return cls(**config)

    def use_channels_last(self, device: str | torch.device) -> bool:
        if self.channels_last == AUTO:
            return torch.device(device).type == "cuda"
        return bool(self.channels_last)


#: ``speed.compile=auto`` compiles a training run that plans at least this many megapixels of training
#: images (optimizer steps x batch size x image height x width / 1e6): well above the measured
#: break-even (docs/performance.md, "Where the compile thresholds come from"), so the embedded demos
#: and ablation presets stay eager and the paper presets compile.
COMPILE_MIN_MEGAPIXELS = 300.0


def compile_pays(steps: int | float, batch_size: int, image_size: int) -> tuple[bool, str]:
    """``speed.compile=auto``'s rule: whether ``steps`` optimizer steps of ``batch_size`` images of
    ``image_size`` px repay compiling, and the reason in words (logged)."""
    if steps is None or steps == float("inf") or steps < 0:
        return True, "the run length is open-ended"
    megapixels = steps * batch_size * image_size * image_size / 1e6
    planned = f"{steps:.0f} steps x {batch_size} x {image_size}x{image_size} px = {megapixels:,.2f} megapixels planned"
    if megapixels >= COMPILE_MIN_MEGAPIXELS:
        return True, f"{planned} >= {COMPILE_MIN_MEGAPIXELS:g}, enough to repay compiling"
    return (
        False,
        f"{planned} < {COMPILE_MIN_MEGAPIXELS:g}, too little to repay compiling (set speed.compile=true to force it)",
    )


#: ``--compile auto`` of the stylize command compiles the network for one input shape when the job will
#: run at least this many megapixels through it (images x height x width / 1e6, after padding; compiled
#: code is specialised to one shape): the top of the measured break-even range, so that a job just over
#: it is not slower than eager even with a cold inductor cache (docs/performance.md).
STYLIZE_COMPILE_MIN_MEGAPIXELS = 25.0


def stylize_compile_pays(megapixels_by_shape: Mapping[tuple[int, ...], float]) -> tuple[frozenset, str]:
    """``--compile auto``'s rule: the input shapes ``(N, H, W)`` worth compiling for, given the megapixels a
    job will run through each, and the reason in words (printed by the command; sizes as width x height)."""
    chosen = frozenset(shape for shape, mp in megapixels_by_shape.items() if mp >= STYLIZE_COMPILE_MIN_MEGAPIXELS)
    total = sum(megapixels_by_shape.values())
    if not megapixels_by_shape:
        return chosen, "no untiled image to plan for"
    if not chosen:
        largest = max(megapixels_by_shape.values())
        return chosen, (
            f"{total:,.1f} megapixels in {len(megapixels_by_shape)} shape(s), at most {largest:,.1f} in one "
            f"< {STYLIZE_COMPILE_MIN_MEGAPIXELS:g}: too little to repay compiling (--compile always forces it)"
        )
    compiled_mp = sum(megapixels_by_shape[shape] for shape in chosen)
    shapes = ", ".join(
        f"{shape[-1]}x{shape[-2]} px" + (f" (batch {shape[0]})" if shape[0] > 1 else "")
        for shape in sorted(chosen, key=lambda s: -megapixels_by_shape[s])
    )
    rest = len(megapixels_by_shape) - len(chosen)
    reason = (
        f"{compiled_mp:,.1f} of {total:,.1f} megapixels in shapes with >= {STYLIZE_COMPILE_MIN_MEGAPIXELS:g} "
        f"each: compiling for {shapes}"
    )
    if rest:
        reason += f"; {rest} other shape(s) run eager"
    return chosen, reason


def threads_per_run(num_threads: int | str, parallel_runs: int | None) -> int | None:
    """CPU threads for one run: ``num_threads`` when given; with ``auto``, the usable cores divided
    among ``parallel_runs`` runs at once (at least 1 each), so runs of a parallel sweep do not fight
    over cores (oversubscribed threads slow every run down);
    ``None`` (leave torch's default) for a run that has the machine to itself."""
    if num_threads != AUTO:
        return int(num_threads)
    if not parallel_runs or parallel_runs <= 1:
        return None
    return max(1, usable_cores() // parallel_runs)


def sweep_parallel_runs() -> int | None:
    """Runs a sweep starts at once (hydra/launcher=parallel: joblib's ``n_jobs``); None for a plain run."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    launcher = HydraConfig.get().launcher
    if "joblib" not in str(launcher.get("_target_", "")).lower():
        return None
    n_jobs = int(launcher.n_jobs)
    return usable_cores() if n_jobs < 0 else n_jobs  # joblib's -1: all cores


def set_threads(num_threads: int | str) -> None:
    """Set this run's CPU threads (``speed.num_threads``; auto: the cores shared among parallel runs)."""
    threads = threads_per_run(num_threads, sweep_parallel_runs())
    if threads is not None:
        torch.set_num_threads(threads)
        logging.getLogger(__name__).info("Using %d CPU thread(s) (speed.num_threads=%s).", threads, num_threads)


def quiet_library_noise() -> None:
    """One copy of each log line, and no warnings a user can do nothing about."""
    if logging.getLogger().handlers:
        # `import lightning` adds its own console handler; under Hydra the root logger already prints.
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


def adam(
    params: Iterable[nn.Parameter],
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    fused: bool | str = AUTO,
) -> torch.optim.Adam:
    """``torch.optim.Adam``, fused where asked (or, with ``auto``, where torch has a fused kernel).

    ``auto`` needs to know the parameters' device, so build the optimizer after the module has been
    moved there (Lightning's ``configure_optimizers`` runs after the move).
    """
    params = list(params)
    if fused == AUTO:
        supported = torch.utils._foreach_utils._get_fused_kernels_supported_devices()
        fused = bool(params) and all(p.device.type in supported and p.dtype.is_floating_point for p in params)
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=bool(fused) or None)


def to_channels_last(value: Any) -> Any:
    """4-D tensors (also inside dicts, lists and tuples) in channels_last memory format."""
    if isinstance(value, torch.Tensor):
        return value.contiguous(memory_format=torch.channels_last) if value.dim() == 4 else value
    if isinstance(value, Mapping):
        return type(value)({key: to_channels_last(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return type(value)(to_channels_last(item) for item in value)
    return value


def quiet_compiler_notes() -> None:
    """Silence inductor's CPU-build note "No CUDA runtime is found, using CUDA_HOME=..." (CUDA builds
    of torch print it on every CPU compile; nothing is wrong and nothing can be done about it)."""
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


def compile_for_inference(network: nn.Module) -> nn.Module:
    """``torch.compile`` an eval-mode network with inductor's weight freezing (constant folding and
    pre-packed convolution weights: most of the CPU win). Recompiles for each new input size."""
    quiet_compiler_notes()
    return torch.compile(network.eval(), dynamic=False, options={"freezing": True})
