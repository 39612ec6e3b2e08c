"""The one ``torch.load`` of the package: safe unpickling, and one ``ValueError`` naming the file, the problem and
what was expected for every way torch fails on a bad file."""

from __future__ import annotations

import pickle
import re
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import torch


def safe_load(
    path: str | PathLike, expected: str, *, trusted: bool = False, map_location: Any = "cpu", trust_hint: str = ""
) -> Any:
    """What ``path`` holds, read with ``weights_only=True`` unless ``trusted``; ``expected`` ends every error,
    ``trust_hint`` says how to allow full unpickling."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Checkpoint not found: {path} (found {'a folder' if path.is_dir() else 'nothing'} there). {expected}"
        )
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes): an interrupted download or copy? {expected}")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols help nobody reading our error
            warnings.filterwarnings("ignore", module="torch._weights_only_unpickler")
            warnings.filterwarnings("ignore", message=".*TorchScript archive.*")
            return torch.load(path, map_location=map_location, weights_only=not trusted)
    except Exception as error:  # UnpicklingError, RuntimeError (bad zip), EOFError, ... for damaged files
        unsupported = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if isinstance(error, pickle.UnpicklingError) and unsupported is not None:
            how = f" If you trust where the file comes from, {trust_hint} to unpickle it fully (that can run code)."
            raise ValueError(
                f"{path} holds Python objects besides tensors and plain containers ({unsupported.group(1)}), which "
                f"safe loading (torch.load(weights_only=True)) refuses.{how if trust_hint else ''} {expected}"
            ) from None
        if "TorchScript archive" in str(error) and not isinstance(error, pickle.UnpicklingError):
            raise ValueError(
                f"{path} is a TorchScript model (e.g. written by scripts/export.py), not a checkpoint: run it with "
                f"torch.jit.load. {expected}"
            ) from None
        first_line = (str(error).strip().splitlines() or [""])[0].split(". ")[0]
        text = re.sub(r"\x1b\[[0-9;]*m", "", first_line)  # torch colours parts of its messages
        reason = f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
    raise ValueError(
        f"Could not read {path} as a PyTorch checkpoint ({reason}); it may be truncated or not a checkpoint at all. "
        f"{expected}"
    )
