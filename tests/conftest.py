"""Shared fixtures. Tests run on CPU, offline, and never touch the user's data/ or logs/."""

import sys
from pathlib import Path

import pytest
import torch

TESTS_DIR = Path(__file__).parent
REPO_ROOT = TESTS_DIR.parent
sys.path.insert(0, str(TESTS_DIR))  # reference modules live next to the tests


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
