"""The speed switches of :mod:`stylenorm.speed` leave the numbers an ablation compares unchanged.

One section per switch: bf16 autocast (norm statistics, training losses, stylized pixels), the
``auto`` precision choice, channels_last, fused Adam, ``torch.compile`` for training and for
inference, and the config plumbing. Each tolerance is stated next to its assertion together with
what was measured on the development machine (2-core AVX-512 BF16 CPU, torch 2.15), so a failure
says how far outside the measured band a change has moved the numbers.
"""

import copy
from pathlib import Path

import numpy as np
import pytest
import test_training
import torch
import yaml
from hydra import compose, initialize_config_dir
from lightning.pytorch import Callback
from omegaconf import OmegaConf
from test_stylize import lightning_checkpoint, read, smooth_image, spread_output_, write
from test_training import compose_run
from torch import nn
from torch._dynamo.utils import counters

from conftest import REPO_ROOT
from reference_networks import randomize_affine_
from stylenorm import speed
from stylenorm import train as train_module
from stylenorm.inference import SIGNED, ZERO_TO_255, Stylizer
from stylenorm.inference.cli import main
from stylenorm.networks import ConvNormActAutoencoder, PatchDiscriminator, ResnetGenerator, TransformerNet
from stylenorm.nn.norm import NormSpec
from stylenorm.speed import (
    SpeedOptions,
    adam,
    resolve_inference_precision,
    resolve_training_precision,
    to_channels_last,
)
from stylenorm.tasks import AutoencoderTask, CycleGANTask, StyleTransferTask

data_dir = test_training.data_dir  # the session fixture with the embedded datasets, shared

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


# ---------------------------------------------------------------- helpers


def train(cfg, *callbacks: Callback):
    """``stylenorm.train.run(cfg)`` - the path of ``python train.py`` - with ``callbacks`` added to
    its Trainer; returns the task and the Trainer it built, for inspection after the run."""
    built = {}
    build = train_module.build

    def build_with_callbacks(cfg):
        datamodule, task, trainer = build(cfg)
        trainer.callbacks.extend(callbacks)
        built.update(task=task, trainer=trainer)
        return datamodule, task, trainer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "build", build_with_callbacks)
        train_module.run(cfg)
    return built["task"], built["trainer"]


class StopAfterOneStep(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        trainer.should_stop = True


class StepLosses(Callback):
    """The values logged under ``names`` at every training step (batch), from ``callback_metrics``."""

    def __init__(self, *names: str):
        self.values: dict[str, list[float]] = {name: [] for name in names}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        for name, values in self.values.items():
            values.append(float(trainer.callback_metrics[name]))


class ConvOutputDtypes(Callback):
    """The dtypes the convolutions produced during training: what autocast really ran."""

    def __init__(self):
        self.dtypes: set[torch.dtype] = set()
        self.hooks = []

    def on_train_start(self, trainer, pl_module):
        for module in pl_module.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                self.hooks.append(module.register_forward_hook(lambda m, i, out: self.dtypes.add(out.dtype)))

    def on_train_end(self, trainer, pl_module):
        for hook in self.hooks:
            hook.remove()


def relative_differences(reference: list[float], other: list[float]) -> list[float]:
    assert len(reference) == len(other) > 0
    return [abs(b - a) / abs(a) for a, b in zip(reference, other, strict=True)]


def is_channels_last(tensor: torch.Tensor) -> bool:
    return tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------- bf16: norm statistics in fp32


@pytest.mark.integration
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["instance", "batch", "group", "layer"])
def test_norm_statistics_stay_fp32_under_bf16_autocast(kind, device):
    """Under autocast the norm layers get bf16 conv outputs; their statistics must be fp32.

    The input sits at 300 with a spread of half a unit (std 0.5 before rounding to bf16): at 300 a
    bf16 ulp is 2, i.e. 4 standard deviations, and each channel's mean lies between bf16 values (the
    offsets are 300 + U(0, 2)). Statistics accumulated in bf16 would be meaningless, and even a mean
    merely stored in bf16 would be off by up to half an ulp - about one standard deviation, so outputs
    off by ~1 (checked below against exactly that emulation), while fp32 statistics leave only the
    rounding of the output.
    """
    torch.manual_seed(0)
    layer = randomize_affine_(NormSpec(kind=kind, affine=True)(64)).to(device).train()
    reference = copy.deepcopy(layer)  # before any forward: batch norm's running statistics move
    offsets = 300 + 2 * torch.rand(1, 64, 1, 1)
    x = (offsets + 0.5 * torch.randn(2, 64, 32, 32)).to(device).bfloat16()  # what a bf16 conv hands over
    with torch.autocast(device, torch.bfloat16):
        output = layer(x)
    expected = reference(x.float())  # the same values, fp32 all the way
    # The only loss allowed is rounding the output to bf16 (8 significant bits: relative error up to
    # 2^-8); rtol 2^-7 is twice that, atol covers fp32 noise around zero. Measured: at most 0.87 of
    # 2^-8 |y| + 1e-3 (0.015 at |y| up to 6.8); with the means stored in bf16 (emulated): 1.4.
    torch.testing.assert_close(output.float(), expected, rtol=2**-7, atol=1e-3)
    if kind in ("instance", "batch"):  # the tolerance does catch statistics stored in bf16
        dims = (2, 3) if kind == "instance" else (0, 2, 3)
        values = x.float()
        mean = values.mean(dims, keepdim=True).bfloat16().float()
        std = (values.var(dims, unbiased=False, keepdim=True) + layer.eps).sqrt()
        emulated = (values - mean) / std * layer.weight.view(1, -1, 1, 1) + layer.bias.view(1, -1, 1, 1)
        assert (emulated - expected).abs().max() > 0.5
    if kind == "batch":
        for name in ("running_mean", "running_var"):
            ours, theirs = getattr(layer, name), getattr(reference, name)
            assert ours.dtype == torch.float32, name
            # fp32 updates from the same fp32 statistics: equal up to fp32 summation order (measured
            # 0 on the CPU); a bf16 buffer would be off by ~2^-9 relative (e.g. 0.06 at 30).
            torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)
        assert reference.running_mean.min() > 25  # they did move towards the offset 300 (x 0.1 momentum)


# ---------------------------------------------------------------- bf16: training losses


def losses_under(tmp_path, data_dir, model: str, precision: str, names: tuple[str, ...], *overrides: str):
    """Per-step logged losses of a seeded run at ``precision``, after checking it really ran so."""
    losses, dtypes = StepLosses(*names), ConvOutputDtypes()
    cfg = compose_run(
        tmp_path / precision,
        data_dir,
        model,
        f"trainer.precision={precision}",
        "trainer.limit_val_batches=0",
        *overrides,
    )
    _, trainer = train(cfg, losses, dtypes)
    assert trainer.precision == precision
    expected_dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float32
    assert dtypes.dtypes == {expected_dtype}, dtypes.dtypes  # what the convolutions really computed in
    return losses.values


@pytest.mark.integration
def test_bf16_mixed_autoencoder_training_follows_fp32(tmp_path, data_dir):
    """The same seeded 12 steps in fp32 and bf16-mixed give the same loss curve within 1%."""
    fp32, bf16 = (
        losses_under(
            tmp_path, data_dir, "autoencoder", precision, ("train/loss",), "data.batch_size=4", "trainer.max_steps=12"
        )
        for precision in ("32-true", "bf16-mixed")
    )
    differences = relative_differences(fp32["train/loss"], bf16["train/loss"])
    assert len(differences) == 12
    # Measured over seeds 0-4: at most 0.27% at any step (0.21% with this seed); 1% is ~4x that.
    assert max(differences) < 0.01, differences


@pytest.mark.integration
def test_bf16_mixed_cyclegan_training_follows_fp32(tmp_path, data_dir):
    """The same seeded 6 CycleGAN iterations (batch 1, as in the paper) in fp32 and bf16-mixed.

    The first iteration starts from identical weights, so only the forward numerics differ; after
    that the two runs' weights drift apart and single-image GAN losses react strongly to that, so
    the bands widen: the generator's whole objective per iteration, the discriminators' over the run.
    """
    names = ("train/G", "train/D_A", "train/D_B")
    overrides = ("data.batch_size=1", "trainer.max_steps=12")  # G and D steps count separately: 6 iterations
    fp32, bf16 = (
        losses_under(tmp_path, data_dir, "cyclegan", precision, names, *overrides)
        for precision in ("32-true", "bf16-mixed")
    )
    generator = relative_differences(fp32["train/G"], bf16["train/G"])
    assert len(generator) == 6
    # Measured over seeds 0-4: first iteration at most 0.09%, later ones at most 5.5% (this seed's
    # third iteration); bands of ~5x and ~4x.
    assert generator[0] < 0.005, generator
    assert max(generator) < 0.2, generator
    for name in ("train/D_A", "train/D_B"):
        # Per step up to 41% apart (one image, drifted weights); the mean over the 6 iterations at
        # most 5.8% over seeds 0-4 (this seed: 5.8% for D_A). 20% is ~3.5x that.
        fp32_mean, bf16_mean = np.mean(fp32[name]), np.mean(bf16[name])
        assert abs(bf16_mean - fp32_mean) / fp32_mean < 0.2, (name, fp32[name], bf16[name])


# ---------------------------------------------------------------- precision auto


@pytest.mark.parametrize(("fast", "training", "inference"), [(True, "bf16-mixed", "bf16"), (False, "32-true", "fp32")])
def test_precision_auto_picks_bf16_only_where_it_is_fast(monkeypatch, fast, training, inference):
    # cpu_has_fast_bf16 is functools.cache'd; has_fast_bf16 looks the name up at each call.
    monkeypatch.setattr(speed, "cpu_has_fast_bf16", lambda: fast)
    assert resolve_training_precision("auto", "cpu") == training
    assert resolve_inference_precision("auto", "cpu") == inference
    assert resolve_inference_precision("auto", torch.device("cpu")) == inference
    for explicit in ("32-true", "bf16-mixed", "16-mixed", "64-true"):
        assert resolve_training_precision(explicit, "cpu") == explicit
    assert resolve_training_precision(32, "cpu") == "32"  # a YAML integer is one of Lightning's values too
    for explicit in ("fp32", "bf16", "fp16"):
        assert resolve_inference_precision(explicit, "cpu") == explicit


def test_cpu_bf16_detection_reads_the_native_instruction_flags(monkeypatch):
    detect = speed.cpu_has_fast_bf16.__wrapped__  # past the cache
    cpuinfo = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw{}\nbogomips\t: 4000\n"

    class FakePath:
        text: str | None = None

        def __init__(self, path: str):
            assert path == "/proc/cpuinfo"

        def read_text(self) -> str:
            if self.text is None:
                raise OSError("no /proc here")
            return self.text

    monkeypatch.setattr(speed, "Path", FakePath)
    for extra, expected in [(" avx512_bf16", True), (" amx_bf16 amx_tile", True), (" avx512_vnni", False), ("", False)]:
        FakePath.text = cpuinfo.format(extra)
        assert detect() is expected, extra
    FakePath.text = None
    assert detect() is False  # not Linux: fp32, the safe choice


def test_precision_auto_does_not_pick_bf16_on_gpus_that_only_emulate_it(monkeypatch):
    """torch.cuda.is_bf16_supported() is also true on pre-Ampere GPUs (T4, V100), where bf16 is
    emulated and slower than fp32: only native bf16 (compute capability 8.0 on) makes ``auto`` bf16."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.version, "hip", None)
    gpus = [
        ((7, 0), "32-true", "fp32"),
        ((7, 5), "32-true", "fp32"),
        ((8, 0), "bf16-mixed", "bf16"),
        ((9, 0), "bf16-mixed", "bf16"),
    ]
    for capability, training, inference in gpus:  # V100, T4, A100, H100
        native = capability[0] >= 8
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        # what torch answers on such a GPU: supported, counting emulation; natively only from 8.0
        monkeypatch.setattr(
            torch.cuda, "is_bf16_supported", lambda including_emulation=True, n=native: including_emulation or n
        )
        assert resolve_training_precision("auto", "gpu") == training, capability
        assert resolve_inference_precision("auto", "cuda:0") == inference, capability


@pytest.mark.integration
@pytest.mark.parametrize(("fast", "expected"), [(True, "bf16-mixed"), (False, "32-true")])
def test_a_default_run_trains_and_records_the_precision_auto_resolved_to(
    monkeypatch, tmp_path, data_dir, fast, expected
):
    monkeypatch.setattr(speed, "cpu_has_fast_bf16", lambda: fast)
    dtypes = ConvOutputDtypes()
    cfg = compose_run(tmp_path, data_dir, "autoencoder", "trainer.max_steps=1", "trainer.limit_val_batches=0")
    assert cfg.trainer.precision == "auto"  # the default of configs/trainer/default.yaml
    _, trainer = train(cfg, dtypes)
    assert trainer.precision == expected
    assert dtypes.dtypes == {torch.bfloat16 if fast else torch.float32}
    saved = yaml.safe_load((Path(cfg.paths.run_dir) / ".hydra" / "config.yaml").read_text())
    assert saved["trainer"]["precision"] == expected  # what ran, not "auto", for the run's record


# ---------------------------------------------------------------- channels_last


class MemoryFormatProbe(Callback):
    """Whether every 4-D batch tensor and every 4-D parameter was channels_last, at each step."""

    def __init__(self):
        self.batches: list[bool] = []
        self.weights: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        images = [value for value in batch.values() if isinstance(value, torch.Tensor) and value.dim() == 4]
        assert images
        self.batches.append(all(is_channels_last(image) for image in images))
        self.weights.append(all(is_channels_last(p) for p in pl_module.parameters() if p.dim() == 4))


@pytest.mark.integration
def test_channels_last_switch_converts_networks_and_batches(tmp_path, data_dir):
    runs = {}
    for switch in ("true", "auto"):  # auto = on CUDA only, so NCHW on this CPU
        probe, losses = MemoryFormatProbe(), StepLosses("train/loss")
        cfg = compose_run(
            tmp_path / switch,
            data_dir,
            "autoencoder",
            f"speed.channels_last={switch}",
            "trainer.precision=32-true",
            "trainer.max_steps=3",
            "trainer.limit_val_batches=0",
        )
        task, _ = train(cfg, probe, losses)
        assert task.speed.channels_last == (True if switch == "true" else "auto")
        runs[switch] = probe, losses.values["train/loss"]
    (nhwc, nhwc_losses), (nchw, nchw_losses) = runs["true"], runs["auto"]
    assert nhwc.batches == nhwc.weights == [True] * 3
    assert nchw.batches == nchw.weights == [False] * 3  # the probe can tell the two apart
    # The same training in another memory layout: measured at most 1.0e-7 apart over the 3 steps
    # (summation order in the conv kernels); 1e-5 as in the per-network check below.
    assert max(relative_differences(nchw_losses, nhwc_losses)) < 1e-5, (nchw_losses, nhwc_losses)


NETWORKS = {
    "TransformerNet": lambda norm: TransformerNet(norm, num_residual_blocks=1),
    "ResnetGenerator": lambda norm: ResnetGenerator(norm, ngf=8, n_blocks=2),
    "PatchDiscriminator": lambda norm: PatchDiscriminator(norm, ndf=8),
    "ConvNormActAutoencoder": lambda norm: ConvNormActAutoencoder(norm, base_channels=8),
}


def run_recording_conv_layouts(network: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[bool]]:
    """``network(x)``, and for each conv output with more than one channel whether it was
    channels_last (with one channel both layouts have the same strides)."""
    layouts: list[bool] = []
    hooks = [
        module.register_forward_hook(lambda module, inputs, out: layouts.append(is_channels_last(out)))
        for module in network.modules()
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and module.out_channels > 1
    ]
    output = network(x)
    for hook in hooks:
        hook.remove()
    assert layouts
    return output, layouts


@pytest.mark.integration
@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("network", list(NETWORKS))
def test_channels_last_gives_the_same_outputs_and_grads(network, norm):
    torch.manual_seed(0)
    nchw = randomize_affine_(NETWORKS[network](norm)).train()
    nhwc = copy.deepcopy(nchw).to(memory_format=torch.channels_last)
    x = torch.rand(2, 3, 32, 32)
    expected, nchw_layouts = run_recording_conv_layouts(nchw, x)
    output, nhwc_layouts = run_recording_conv_layouts(nhwc, x.contiguous(memory_format=torch.channels_last))
    assert all(nhwc_layouts) and not any(nchw_layouts)  # two layouts really were compared
    expected.square().mean().backward()
    output.square().mean().backward()
    # Same arithmetic, other summation order in the conv kernels: measured at most 2.1e-6 of the
    # largest output and 9.6e-7 of the largest gradient; 1e-5 of the scale is ~5-10x that.
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())
    # The atol is scaled to the network's largest gradient: a conv bias in front of a norm that
    # subtracts the mean has a true gradient of 0 and computed ones of ~1e-9 rounding noise, which
    # a purely relative comparison would compare with each other.
    largest = max(p.grad.abs().max().item() for p in nchw.parameters())
    for (name, p), q in zip(nchw.named_parameters(), nhwc.parameters(), strict=True):
        torch.testing.assert_close(
            q.grad, p.grad, rtol=1e-5, atol=1e-5 * largest, msg=lambda text, n=name: f"{n}: {text}"
        )


def test_to_channels_last_converts_4d_tensors_inside_containers_only():
    image, mask, label = torch.rand(2, 3, 8, 8), torch.rand(2, 8, 8), torch.tensor([1, 2])
    batch = {"A": image, "nested": [image, (mask, image)], "label": label, "name": "a.png"}
    converted = to_channels_last(batch)
    assert type(converted) is dict and type(converted["nested"]) is list and type(converted["nested"][1]) is tuple
    assert is_channels_last(converted["A"]) and is_channels_last(converted["nested"][0])
    assert is_channels_last(converted["nested"][1][1])
    assert converted["nested"][1][0] is mask and converted["label"] is label and converted["name"] == "a.png"
    torch.testing.assert_close(converted["A"], image, rtol=0, atol=0)  # the values stay, only the strides change
    assert not is_channels_last(image)  # the input is not modified


# ---------------------------------------------------------------- fused Adam


def test_fused_adam_takes_the_same_steps_as_torchs_default():
    torch.manual_seed(0)
    network = randomize_affine_(ConvNormActAutoencoder("instance", base_channels=8))
    other = copy.deepcopy(network)
    initial = copy.deepcopy(network.state_dict())
    options = {"lr": 1e-2, "betas": (0.5, 0.99), "weight_decay": 1e-3}
    fused = adam(network.parameters(), fused=True, **options)
    default = adam(other.parameters(), fused=False, **options)
    assert fused.defaults["fused"] is True and not default.defaults["fused"]
    for _ in range(5):
        for p, q in zip(network.parameters(), other.parameters(), strict=True):
            p.grad = torch.randn_like(p)
            q.grad = p.grad.clone()
        fused.step()
        default.step()
    for (name, p), q in zip(network.named_parameters(), other.parameters(), strict=True):
        assert (p - initial[name]).abs().max() > 5e-3, name  # the 5 steps of lr 1e-2 did move it (>= 0.02)
        # One fp32 kernel against a loop of fp32 ops: measured at most 3e-8 apart after 5 steps.
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=lambda text, n=name: f"{n}: {text}")


def test_adam_auto_is_fused_for_cpu_parameters():
    assert adam(nn.Conv2d(3, 4, 3).parameters(), lr=1e-3).defaults["fused"] is True
    assert adam(nn.Conv2d(3, 4, 3).parameters(), lr=1e-3, fused="auto").defaults["fused"] is True


@pytest.mark.parametrize("fused_adam", ["auto", False])
def test_every_task_builds_its_adams_with_the_speed_choice(fused_adam):
    tasks = [
        AutoencoderTask(network={"base_channels": 8}, speed={"fused_adam": fused_adam}),
        CycleGANTask(generator={"ngf": 8, "n_blocks": 2}, discriminator={"ndf": 8}, speed={"fused_adam": fused_adam}),
        StyleTransferTask(vgg_weights="random", network={"num_residual_blocks": 1}, speed={"fused_adam": fused_adam}),
    ]
    for task in tasks:
        configured = task.configure_optimizers()
        optimizers = configured[0] if isinstance(configured, tuple) else configured
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        for optimizer in optimizers:
            assert isinstance(optimizer, torch.optim.Adam)
            assert bool(optimizer.defaults["fused"]) is (fused_adam == "auto"), type(task).__name__


@pytest.mark.integration
@pytest.mark.parametrize(("override", "fused"), [(None, True), ("speed.fused_adam=false", False)])
def test_training_runs_with_fused_adam_unless_switched_off(tmp_path, data_dir, override, fused):
    overrides = [override] if override else []
    cfg = compose_run(tmp_path, data_dir, "cyclegan", "trainer.max_steps=2", "trainer.limit_val_batches=0", *overrides)
    _, trainer = train(cfg)
    assert len(trainer.optimizers) == 2
    assert [bool(opt.defaults["fused"]) for opt in trainer.optimizers] == [fused, fused]
    assert all(opt.state for opt in trainer.optimizers)  # they did step


# ---------------------------------------------------------------- torch.compile for training


@pytest.mark.integration
def test_compiled_training_gives_the_eager_losses(tmp_path, data_dir):
    runs = {}
    for compiled in (False, True):
        losses = StepLosses("train/loss")
        cfg = compose_run(
            tmp_path / str(compiled),
            data_dir,
            "autoencoder",
            f"speed.compile={str(compiled).lower()}",
            "trainer.precision=32-true",
            "data.batch_size=4",
            "trainer.max_steps=3",
            "trainer.limit_val_batches=0",
        )
        counters.clear()
        task, _ = train(cfg, losses)
        runs[compiled] = losses.values["train/loss"]
        # nn.Module.compile sets _compiled_call_impl, which __call__ then runs instead of forward.
        assert (task.autoencoder._compiled_call_impl is not None) is compiled
        # ... and the training steps went through compiled forward+backward graphs (AOTAutograd).
        assert (counters["aot_autograd"]["ok"] > 0) is compiled, dict(counters["aot_autograd"])
    assert len(runs[True]) == 3
    # Same fp32 ops; inductor may fuse elementwise ones in another order. Measured: identical losses
    # over the 3 steps; 1e-4 relative leaves room for fusion order on other CPUs.
    assert max(relative_differences(runs[False], runs[True])) < 1e-4, runs


@pytest.mark.parametrize(
    ("steps", "batch", "size", "compiles"),
    [
        (1200, 1, 64, False),  # the embedded CycleGAN demo: 4.9 megapixels
        (1500, 4, 64, False),  # the embedded style demo: 24.6
        (1500, 16, 64, False),  # the embedded autoencoder demo: 98.3
        (18310, 4, 64, False),  # 299.99 megapixels: just under the threshold
        (18311, 4, 64, True),  # 300.01: just over
        (41_000, 4, 256, True),  # style_paper: 2 epochs of COCO
        (float("inf"), 1, 8, True),  # open-ended
    ],
)
def test_compile_auto_compiles_when_the_planned_pixels_repay_it(steps, batch, size, compiles):
    from stylenorm.speed import COMPILE_MIN_MEGAPIXELS, compile_pays

    decision, reason = compile_pays(steps, batch, size)
    assert decision is compiles, reason
    if steps != float("inf"):
        megapixels = steps * batch * size * size / 1e6
        assert f"{megapixels:,.2f} megapixels planned" in reason and (megapixels >= COMPILE_MIN_MEGAPIXELS) is compiles


@pytest.mark.integration
@pytest.mark.parametrize(("max_steps", "compiled"), [(3, False), (200_000, True)])
def test_compile_auto_decides_from_the_run_and_says_why(tmp_path, data_dir, caplog, monkeypatch, max_steps, compiled):
    """The decision reads the run's planned steps, batch and image size; the large plan is only
    decided here (the compile itself is replaced: this test is about the rule, not inductor)."""
    import logging

    from stylenorm.tasks.base import ImageTranslationTask

    chosen = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kwargs: chosen.append(type(self).__name__))
    cfg = compose_run(tmp_path, data_dir, "autoencoder", "speed.compile=auto", f"trainer.max_steps={max_steps}",
                      "trainer.limit_val_batches=0")  # fmt: skip
    with caplog.at_level(logging.INFO, logger="stylenorm.tasks.base"):
        task, _ = train(cfg, StopAfterOneStep())
    assert (
        isinstance(task, ImageTranslationTask)
        and task.compiled is compiled
        and (chosen == ["ConvNormActAutoencoder"]) is compiled
    )
    expected = "compiling the networks" if compiled else "running eager"
    assert f"speed.compile=auto: {expected} ({max_steps} steps x 16 x 32x32 px" in caplog.text


# ---------------------------------------------------------------- inference: bf16 and compile


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    """A smooth 64x64 photo-like image, float 0-255 (N, 3, H, W)."""
    return torch.from_numpy(smooth_image(64, 64, seed=3)).permute(2, 0, 1)[None].float()


def make_stylizer(kind: str, image: torch.Tensor) -> Stylizer:
    """Random networks scaled so the output spreads over the gray levels (std ~40-60), as a trained
    network's does; a near-constant output would hide precision loss in the clamp."""
    torch.manual_seed(5)
    if kind == "TransformerNet":
        network = randomize_affine_(TransformerNet("instance", num_residual_blocks=1))
        spread_output_(network.conv_out.conv, network, image, target_std=60.0)
        with torch.no_grad():
            network.conv_out.conv.bias += 127.0
        return Stylizer(network, ZERO_TO_255, kind)
    network = randomize_affine_(ResnetGenerator("instance", ngf=8, n_blocks=2))
    spread_output_(network.model[-2], network, image / 127.5 - 1, target_std=0.5)
    return Stylizer(network, SIGNED, kind)


def assert_within_bf16_band(output: torch.Tensor, fp32: torch.Tensor) -> None:
    difference = (output - fp32).abs()
    # bf16 keeps 8 significant bits, ~0.4% of a value, i.e. about one gray level on the 0-255 scale.
    # Measured here: mean 0.79-0.91 and max 4.9-6.7 gray levels (eager and compiled); over 6 seeds x
    # 3 networks (incl. the 5-block TransformerNet) mean 0.57-1.23, max 2.9-7.2. The bands are
    # ~2.5x this file's values and ~2x the worst seed.
    assert difference.mean() < 2.5, difference.mean()
    assert difference.max() < 16, difference.max()
    assert difference.max() > 0.1  # it really ran in bf16


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["TransformerNet", "ResnetGenerator"])
def test_bf16_inference_stays_within_a_few_gray_levels(image, kind):
    stylizer = make_stylizer(kind, image)
    fp32, bf16 = stylizer(image, "fp32"), stylizer(image, "bf16")
    assert fp32.std() > 30  # spread over the gray levels
    assert bf16.dtype == torch.float32  # scaled back to 0-255 in fp32: no extra rounding at the end
    assert_within_bf16_band(bf16, fp32)


@pytest.mark.integration  # torch.compile runs the inductor compiler: tens of seconds per network
@pytest.mark.parametrize("kind", ["TransformerNet", "ResnetGenerator"])
def test_compiled_inference_gives_the_eager_pixels(image, kind):
    eager = make_stylizer(kind, image)
    compiled = Stylizer(eager.network, eager.convention, kind, compiled=True)
    fp32 = eager(image, "fp32")
    counters.clear()
    compiled_fp32 = compiled(image, "fp32")
    assert counters["stats"]["unique_graphs"] > 0  # dynamo captured and compiled the network
    # Inductor folds and fuses fp32 ops in another order: measured at most 7.8e-4 gray levels
    # (TransformerNet) and 4.7e-4 (ResnetGenerator); 5e-3 is ~6x that and 200x below a gray level.
    torch.testing.assert_close(compiled_fp32, fp32, rtol=0, atol=5e-3)
    assert_within_bf16_band(compiled(image, "bf16"), fp32)
    # Autocast must not be baked into the compiled graph: fp32 after bf16 is fp32 again.
    torch.testing.assert_close(compiled(image, "fp32"), compiled_fp32, rtol=0, atol=5e-3)
    assert compiled.compile() is compiled and compiled.compiled


@pytest.fixture(scope="module")
def style_checkpoint(tmp_path_factory):
    """A style .ckpt whose output spreads over the gray levels, so bf16 and fp32 pixels differ."""
    torch.manual_seed(3)
    task = StyleTransferTask(norm={"kind": "instance"}, network={"num_residual_blocks": 1}, vgg_weights="random")
    network = randomize_affine_(task.transformer)
    sample = torch.from_numpy(smooth_image(32, 40, seed=9)).permute(2, 0, 1)[None].float()
    spread_output_(network.conv_out.conv, network, sample, target_std=60.0)
    with torch.no_grad():
        network.conv_out.conv.bias += 127.0
    return lightning_checkpoint(task, tmp_path_factory.mktemp("speed_ckpt") / "style.ckpt")


@pytest.mark.integration
@pytest.mark.parametrize(("fast", "expected", "other"), [(True, "bf16", "fp32"), (False, "fp32", "bf16")])
def test_the_stylize_command_reports_and_runs_the_precision_auto_chose(
    monkeypatch, tmp_path, capsys, style_checkpoint, fast, expected, other
):
    monkeypatch.setattr(speed, "cpu_has_fast_bf16", lambda: fast)
    photo = write(tmp_path / "photo.png", smooth_image(32, 40, seed=6))
    args = ["-c", str(style_checkpoint), "-i", str(photo), "--device", "cpu"]
    assert main([*args, "-o", str(tmp_path / "auto.png")]) == 0  # --precision auto is the default
    assert f"on cpu ({expected}, eager)" in capsys.readouterr().out  # one image: --compile auto stays eager
    for precision in (expected, other):
        assert main([*args, "-o", str(tmp_path / f"{precision}.png"), "--precision", precision]) == 0
    auto = read(tmp_path / "auto.png")
    np.testing.assert_array_equal(auto, read(tmp_path / f"{expected}.png"))  # it ran what it announced ...
    assert (auto != read(tmp_path / f"{other}.png")).any()  # ... which the pixels can tell apart


@pytest.mark.integration  # compiles
def test_the_stylize_command_compiles_on_request(tmp_path, capsys, style_checkpoint):
    photo = write(tmp_path / "photo.png", smooth_image(32, 40, seed=6))
    args = ["-c", str(style_checkpoint), "-i", str(photo), "--device", "cpu", "--precision", "fp32"]
    assert main([*args, "-o", str(tmp_path / "eager.png")]) == 0
    assert main([*args, "-o", str(tmp_path / "compiled.png"), "--compile"]) == 0
    assert "(fp32, compiled)" in capsys.readouterr().out
    eager, compiled = read(tmp_path / "eager.png").astype(int), read(tmp_path / "compiled.png").astype(int)
    assert eager.std() > 10  # not a flat image
    # Compiled fp32 is within 5e-3 gray levels of eager before rounding (see above), so a pixel can
    # only differ where its value sits on a rounding boundary: by one level at most, and rarely.
    assert np.abs(eager - compiled).max() <= 1 and (eager == compiled).mean() > 0.99


# ---------------------------------------------------------------- config plumbing


def test_speed_options_refuse_unknown_keys_and_values():
    with pytest.raises(ValueError, match=r"Unknown speed options \['channel_last'\]"):
        SpeedOptions.from_config({"channel_last": True})
    with pytest.raises(ValueError, match=r"speed\.channels_last must be true, false or auto, got 'maybe'"):
        SpeedOptions.from_config({"channels_last": "maybe"})
    with pytest.raises(ValueError, match=r"speed\.fused_adam .* got 1"):
        SpeedOptions(fused_adam=1)
    with pytest.raises(ValueError, match=r"speed\.compile must be true, false or auto, got 'yes'"):
        SpeedOptions(compile="yes")
    assert SpeedOptions.from_config(None) == SpeedOptions()
    assert SpeedOptions.from_config({"compile": True}).compile is True
    options = SpeedOptions(channels_last="auto")
    assert options.use_channels_last("cuda") and not options.use_channels_last("cpu")


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=["model=autoencoder", "model.network.base_channels=8", *overrides])


@pytest.mark.integration
def test_the_speed_config_group_reaches_the_task():
    cfg = compose_train("speed.compile=true", "speed.channels_last=false", "speed.compile_mode=max-autotune")
    task = train_module.instantiate(cfg.model)
    assert task.speed == SpeedOptions(channels_last=False, compile=True, compile_mode="max-autotune", fused_adam="auto")
    default = train_module.instantiate(compose_train().model)
    assert default.speed == SpeedOptions()  # configs/speed/default.yaml = the dataclass defaults
    assert OmegaConf.to_container(compose_train().speed) == {
        "channels_last": "auto",
        "compile": "auto",
        "compile_mode": None,
        "fused_adam": "auto",
        "num_threads": "auto",
    }
    with pytest.raises(ValueError, match="channel_last"):
        train_module.instantiate(compose_train("+speed.channel_last=true").model)
