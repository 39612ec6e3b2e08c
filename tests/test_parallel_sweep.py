"""Parallel sweeps (hydra/launcher=parallel): runs at once, their own threads and folders, and the
same metrics per seed as the same sweep run one after another."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from conftest import REPO_ROOT, compose_offline_run, run_folders
from stylenorm.speed import threads_per_run

TINY_AUTOENCODER = [
    "model=autoencoder",
    "model.network.base_channels=8",
    "data.image_size=32",
    "trainer.max_steps=6",
    "trainer.num_sanity_val_steps=0",
    "trainer.limit_val_batches=1",
    "trainer.enable_progress_bar=false",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
    "speed.num_threads=1",  # both launchers: one thread per run, so the arithmetic is the same
]


def sweep(root: Path, data: Path, *extra: str) -> tuple[dict[int, dict], str]:
    """``python train.py -m seed=0,1 ...``; the result.json of each run by seed, and what it printed."""
    command = [sys.executable, str(REPO_ROOT / "train.py"), "-m", "seed=0,1", *TINY_AUTOENCODER, *extra,
               f"paths.data_dir={data}", f"paths.log_dir={root / 'logs'}",
               f"paths.checkpoint_dir={root / 'checkpoints'}"]  # fmt: skip
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = {}
    for folder in run_folders(root / "logs"):
        config = (folder / ".hydra" / "config.yaml").read_text()
        seed = int(next(line.split(":")[1] for line in config.splitlines() if line.startswith("seed:")))
        results[seed] = json.loads((folder / "result.json").read_text())
    return results, done.stderr + done.stdout


@pytest.fixture(scope="module")
def both_sweeps(tmp_path_factory):
    """The parallel sweep as a user starts it, and the same two runs one after the other in this
    process (as the basic launcher runs them: in-process, in turn)."""
    from stylenorm.train import run

    data = tmp_path_factory.mktemp("data")  # the embedded data built once, shared like a user's data/
    parallel, log = sweep(
        tmp_path_factory.mktemp("parallel"), data, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2"
    )
    sequential, threads = {}, torch.get_num_threads()
    try:
        for seed in (0, 1):
            cfg = compose_offline_run(tmp_path_factory.mktemp(f"sequential{seed}"), *TINY_AUTOENCODER, f"seed={seed}",
                                      data_dir=data)  # fmt: skip
            run(cfg)
            sequential[seed] = json.loads((Path(cfg.paths.run_dir) / "result.json").read_text())
    finally:
        torch.set_num_threads(threads)  # speed.num_threads=1 set it for this process
    return sequential, parallel, log


@pytest.mark.integration
def test_a_parallel_sweep_gives_each_seed_the_metrics_of_the_sequential_sweep(both_sweeps):
    sequential, parallel, _ = both_sweeps
    assert set(sequential) == set(parallel) == {0, 1}
    for seed in (0, 1):
        assert parallel[seed]["status"] == "finished" and parallel[seed]["global_step"] == 6
        assert parallel[seed]["metrics"] == sequential[seed]["metrics"], seed  # every final scalar, bit for bit
    assert sequential[0]["metrics"] != sequential[1]["metrics"]  # the seeds are different runs


@pytest.mark.integration
def test_the_parallel_launcher_ran_the_jobs_in_worker_processes(both_sweeps):
    _, _, log = both_sweeps
    assert log.count("Using 1 CPU thread(s)") == 2
    assert "JoblibLauncher" in log or "Joblib.Parallel" in log or "n_jobs=2" in log


@pytest.mark.parametrize(
    ("setting", "parallel", "cores", "expected"),
    [
        ("auto", None, 8, None),
        ("auto", 1, 8, None),
        ("auto", 2, 8, 4),
        ("auto", 3, 8, 2),
        ("auto", 16, 8, 1),
        (3, 2, 8, 3),
    ],
)
def test_threads_per_run_share_the_cores(monkeypatch, setting, parallel, cores, expected):
    monkeypatch.setattr("stylenorm.speed.usable_cores", lambda: cores)
    assert threads_per_run(setting, parallel) == expected


def test_the_parallel_launcher_config_runs_one_job_per_core():
    from stylenorm.cores import usable_cores
    from stylenorm.run_folder import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=parallel"], return_hydra_config=True)
    assert "JoblibLauncher" in cfg.hydra.launcher._target_
    assert cfg.hydra.launcher.n_jobs == usable_cores() >= 1
    with pytest.raises(ValueError, match="speed.num_threads must be a positive int or auto"):
        from stylenorm.speed import SpeedOptions

        SpeedOptions(num_threads=0)
    assert torch.get_num_threads() >= 1
