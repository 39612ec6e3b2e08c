"""Shared by the web page's tests (test_demo.py, test_demo_browser.py): two tiny runs, trained once per
session, a test photo and a free port.

Autoencoders with 8-channel networks, instance norm and batch norm, trained for a few steps through
``stylenorm.train.run`` as ``python train.py`` would: real ``last.ckpt`` files with real log folders
(hparams.yaml, result.json, event files), small enough to add seconds, not minutes, to ``pytest``.
"""

from __future__ import annotations

import functools
import socket
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from conftest import train_tiny_autoencoder

#: The norm kinds of the two runs, in the order :func:`train_demo_runs` trains them.
KINDS = ("instance", "batch")


@functools.cache
def train_demo_runs(root: Path) -> Path:
    """Train the two runs under ``root`` (``root/checkpoints``, ``root/logs``, ``root/data``); returns ``root``.

    Cached for the session: both test files ask with the same root and the second gets the first's runs.
    """
    for kind in KINDS:
        train_tiny_autoencoder(root, kind, "trainer.max_steps=3")
    return root


def checkpoint(root: Path, kind: str) -> Path:
    """``last.ckpt`` of the run with norm ``kind``."""
    (path,) = (root / "checkpoints" / "runs").glob(f"*_autoencoder-{kind}/last.ckpt")
    return path


def photo(path: Path, width: int = 70, height: int = 50, seed: int = 0) -> Path:
    """Smooth colour fields with grain, kept inside [0.1, 0.9] so that mild relighting never clips."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 6, 6, generator=generator) * 0.5 + 0.25
    image = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    image = (image + 0.1 * torch.randn(1, 3, height, width, generator=generator)).clamp(0.1, 0.9)
    array = (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
