"""scripts/benchmark.py: its measurements are right and the command produces its table and JSON.

Speed itself is never asserted here (timings belong to the benchmark's output, not to tests); what
is checked is that FLOPs match an independent count, memory peaks see a known allocation, paths
alternate, and the command writes what it says, on tiny sizes.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from scripts.benchmarking.cli import main
from scripts.benchmarking.measure import (
    PeakMemory,
    Timing,
    affordable_repeats,
    count_flops,
    interleaved,
    matmul_peak_flops,
)
from stylenorm import speed
from stylenorm.networks import TransformerNet


def analytic_conv_flops(network: nn.Module, images: torch.Tensor) -> int:
    """2 x multiply-accumulates of every conv and transposed conv, from the output shapes (hooks)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):  # every input pixel scatters a k x k x C_out patch
            pixels = inputs[0].shape[0] * inputs[0].shape[2] * inputs[0].shape[3]
        else:
            pixels = output.shape[0] * output.shape[2] * output.shape[3]
        total += 2 * pixels * k * module.in_channels * module.out_channels // module.groups

    handles = [
        m.register_forward_hook(hook) for m in network.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    with torch.no_grad():
        network(images)
    for handle in handles:
        handle.remove()
    return total


@pytest.mark.integration
def test_flop_count_matches_the_analytic_conv_count():
    network = TransformerNet().eval()
    images = torch.rand(1, 3, 64, 64) * 255
    expected = analytic_conv_flops(network, images)
    with torch.no_grad():
        counted = count_flops(lambda: network(images))
    assert counted == pytest.approx(expected, rel=0.01)
    # and backward counts too: a training step costs about 3x the forward
    counted_step = count_flops(lambda: network(images.requires_grad_()).sum().backward())
    assert 2.5 * expected < counted_step < 3.5 * expected


def test_peak_memory_sees_a_known_allocation_and_not_a_freed_one():
    size = 256 * 1024**2
    with PeakMemory(torch.device("cpu")) as memory:
        block = torch.ones(size // 4)  # 256 MiB of float32, written so the pages are resident
        del block
    assert 0.9 * size < memory.peak_bytes < 1.5 * size
    with PeakMemory(torch.device("cpu")) as quiet:
        torch.ones(16).sum()
    assert quiet.peak_bytes < 0.1 * size


def test_paths_alternate_after_their_warm_up_and_memory_calls():
    calls = []
    samples = interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        Timing(torch.device("cpu"), warmup=2, repeats=3),
        reference="b",
    )
    # "a": 2 warm-up calls and a memory call; the reference "b": one call measuring memory; then turns
    assert calls == ["a", "a", "a", "b", "a", "b", "a", "b", "a", "b"]
    assert len(samples["a"].times) == 3 and samples["a"].first_call_s is not None


def test_the_case_budget_caps_timed_calls_but_keeps_one():
    assert affordable_repeats(3, call_seconds=5.0, budget_s=40.0) == 3
    assert affordable_repeats(3, call_seconds=15.0, budget_s=40.0) == 2
    assert affordable_repeats(3, call_seconds=60.0, budget_s=40.0) == 1
    assert affordable_repeats(3, call_seconds=60.0, budget_s=None) == 3


def test_matmul_peak_is_a_plausible_rate():
    rate = matmul_peak_flops(torch.device("cpu"), torch.float32, sizes=(128, 256), repeats=2)
    assert 1e8 < rate < 1e14


@pytest.mark.integration
def test_the_command_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--workloads", "autoencoder", "stylize_style", "data", "--size", "32", "--stylize-sizes", "32"]
    assert main([*args, "--repeats", "2", "--no-compile", "--device", "cpu", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| workload | size | batch | path |" in printed and "gray levels" in printed
    results = json.loads(out.read_text())
    rows = results["rows"]
    assert [(r["workload"], r["path"]) for r in rows] == [
        (w, p) for w in ("autoencoder", "stylize_style", "data") for p in ("reference", "stylenorm")
    ]
    for reference, project in zip(rows[::2], rows[1::2], strict=True):
        assert reference["speedup"] == 1.0
        assert project["speedup"] == pytest.approx(reference["median_s"] / project["median_s"])
        assert len(project["times_s"]) == 2 and project["median_s"] > 0
    stylize = rows[3]
    assert stylize["gflop"] == pytest.approx(
        analytic_conv_flops(TransformerNet(), torch.rand(1, 3, 32, 32)) / 1e9, rel=0.01
    )
    assert stylize["max_abs_diff_gray_levels"] < 8  # bf16 (where fast) or fp32: the same picture
    assert rows[5]["images_per_s"] > 0 and "workers" in rows[5]["notes"]
    assert results["meta"]["matmul_peak_fp32_tflops"] > 0


@pytest.mark.integration
def test_the_json_keeps_its_documented_keys(tmp_path, repo_root):
    """The stable keys docs/performance.md promises to tools, with their units."""
    from scripts.benchmarking.cli import JSON_SCHEMA, QUALITY_ROW_KEYS, STABLE_ROW_KEYS

    out = tmp_path / "bench.json"
    args = ["--workloads", "stylize_style", "--stylize-sizes", "16", "--repeats", "1", "--no-compile"]
    assert main([*args, "--device", "cpu", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["schema"] == JSON_SCHEMA == 1
    documented = (repo_root / "docs" / "performance.md").read_text()
    for row in results["rows"]:
        assert set(STABLE_ROW_KEYS) <= set(row)
        assert row["median_ms"] == pytest.approx(1000 * row["median_s"]) and row["peak_mem_mib"] == row["peak_mib"]
    project = results["rows"][1]
    assert project["max_gray_diff"] == project["max_abs_diff_gray_levels"] >= project["mean_gray_diff"] >= 0
    for key in (*STABLE_ROW_KEYS, *QUALITY_ROW_KEYS):
        assert f"`{key}`" in documented, key


@pytest.mark.integration
def test_scaling_sweeps_and_ddp_proxy_run(tmp_path, capsys):
    out = tmp_path / "scaling.json"
    args = ["--scaling", "--scaling-model", "autoencoder", "--scaling-sizes", "16", "32", "--scaling-batches", "1", "2"]
    assert main([*args, "--scaling-batch-size-px", "16", "--repeats", "2", "--device", "cpu", "--json", str(out)]) == 0
    report = json.loads(out.read_text())["scaling"]
    assert [r["size"] for r in report["size"]] == [16, 32]
    assert [r["batch"] for r in report["batch"]] == [1, 2]
    assert report["ddp"] and report["ddp"][0]["throughput_ratio"] > 0
    assert "2 processes (DDP, gloo)" in capsys.readouterr().out


def test_an_unusable_device_is_refused_with_a_message(capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main(["--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.parametrize(("job_images", "compiled"), [(1, False), (100_000, True)])
def test_stylize_rows_follow_the_commands_compile_auto_for_the_planned_job(monkeypatch, job_images, compiled):
    """``--compile auto`` (the default): the stylize rows compile exactly when the command would for a
    folder of ``--stylize-job-images`` such images (the compile is replaced: the rule is the subject)."""
    from scripts.benchmarking import workloads
    from stylenorm.inference import stylizer

    monkeypatch.setattr(stylizer, "compile_for_inference", lambda network: network)
    timing = Timing(torch.device("cpu"), warmup=1, repeats=1)
    case = workloads.inference_case("stylize_style", size=32, batch=1, timing=timing, job_images=job_images)
    megapixels = job_images * 32 * 32 / 1e6
    assert case.extra["compiled"] is compiled is (megapixels >= speed.STYLIZE_COMPILE_MIN_MEGAPIXELS)
    assert f"--compile auto for {job_images} images" in case.notes
    assert ("compiled (inductor" in case.notes) is compiled


@pytest.mark.integration
def test_stylize_jobs_time_whole_commands_and_report_auto_s_decision(tmp_path, capsys, monkeypatch):
    """Fresh stylize processes under --compile never and auto; a job past a (lowered) threshold compiles."""
    from scripts.benchmarking import commands

    assert commands.threshold_images(1024) == math.ceil(speed.STYLIZE_COMPILE_MIN_MEGAPIXELS * 1e6 / 1024**2)
    out = tmp_path / "jobs.json"
    args = ["--stylize-jobs", "--stylize-jobs-size", "32", "--stylize-jobs-counts", "1", "2", "--device", "cpu"]
    assert main([*args, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| images | size | megapixels | --compile never | --compile auto |" in printed
    rows = json.loads(out.read_text())["stylize_jobs"]["rows"]
    assert [row["images"] for row in rows] == [1, 2]
    for row in rows:
        assert row["never_s"] > 0 and row["auto_s"] > 0
        assert row["auto_over_never"] == pytest.approx(row["auto_s"] / row["never_s"])
        assert "too little to repay compiling" in row["decision"]


@pytest.mark.slow  # nine train.py processes, about 40 s; the parallel launcher itself: test_parallel_sweep.py
def test_the_sweep_mode_runs_a_preset_both_ways_and_compares_the_runs(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    overrides = ["norm=instance,none", "seed=0", "trainer.max_steps=2", "data.image_size=16"]
    overrides.append(f"paths.data_dir={tmp_path / 'data'}")  # not the user's data/
    args = ["--sweep", "ablation_autoencoder", "--sweep-out", str(tmp_path / "runs"), "--device", "cpu"]
    assert main([*args, "--sweep-override", *overrides, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| hydra/launcher=parallel | 3 |" in printed and "Final val/psnr, run by run" in printed
    report = json.loads(out.read_text())["sweep"]
    assert report["runs"] == {"sequential": 3, "parallel": 3} and report["unmatched"] == []
    assert report["speedup"] == pytest.approx(report["seconds"]["sequential"] / report["seconds"]["parallel"])
    assert {row["run"].split("_", 1)[1] for row in report["per_run"]} == {  # job folders: <job>_<swept values>
        "seed-0+norm-instance+norm.affine-True",
        "seed-0+norm-instance+norm.affine-False",
        "seed-0+norm-none+norm.affine-False",
    }
    # Two steps: only the thread count differs between the launchers, so the runs agree to rounding.
    assert report["max_abs_difference"] < 1e-2
    assert (tmp_path / "runs" / "parallel" / "logs").is_dir() and (tmp_path / "runs" / "sequential.log").is_file()
