"""scripts/gpu_check.sh: the maintainer's one-command check of a CUDA machine, run here on the CPU."""

import subprocess

import pytest
import torch

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "gpu_check.sh"


def gpu_check(*args: str, out) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args, "--out", str(out)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=1800)  # fmt: skip


@pytest.mark.integration
def test_bad_devices_are_refused_before_any_work(tmp_path):
    done = gpu_check("--device", "tpu", out=tmp_path)
    assert done.returncode == 2 and "--device takes cuda, cuda:N or cpu, got tpu" in done.stderr


@pytest.mark.integration
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_asked_for_on_a_cpu_machine_is_refused_naming_the_fix(tmp_path):
    done = gpu_check(out=tmp_path)
    assert done.returncode == 2 and "torch sees no CUDA device here" in done.stderr + done.stdout
    assert "--device cpu" in done.stderr + done.stdout
    assert not (tmp_path / "benchmark.json").exists()  # stopped before the benchmark


@pytest.mark.integration
@pytest.mark.slow
def test_the_whole_check_runs_on_a_cpu(tmp_path):
    """Every step at --quick sizes; the CUDA tests are skipped and listed as such (about 4-10 min on 2 cores)."""
    done = gpu_check("--device", "cpu", "--quick", out=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = (tmp_path / "summary.md").read_text()
    assert "Failed steps: none" in summary and "cyclegan_paper short run: finished" in summary
    assert "skipped" in (tmp_path / "cuda_tests.txt").read_text()
    workloads = {
        line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| ") and "ms |" in line
    }
    assert workloads == {"cyclegan", "style", "stylize_style", "stylize_cyclegan"}
