"""The one ``torch.load`` of the package: safe unpickling, and one clear error for every bad file.

``torch.load(weights_only=True)`` cannot run code stored in a file; this project's checkpoints and
the public weight files hold tensors and plain containers only, so they all load that way. Torch's
many failure modes (truncated zip, HTML saved as .pth, TorchScript archive, pickled objects) become
a ``ValueError`` that names the file, what went wrong and what was expected.
"""

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
    """What ``path`` holds, read with ``weights_only=True`` unless ``trusted``.

    ``expected`` (a sentence: what the caller takes) ends every error; ``trust_hint`` says how the
    caller's user lets a file be fully unpickled (e.g. "pass --trust-checkpoint"), when it can.
    Raises FileNotFoundError for a missing file, ValueError for one that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        found = "a folder" if path.is_dir() else "nothing"
        raise FileNotFoundError(f"Checkpoint not found: {path} (found {found} there). {expected}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes): an interrupted download or copy? {expected}")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols help nobody reading our error
            warnings.filterwarnings("ignore", module="torch._weights_only_unpickler")
            warnings.filterwarnings("ignore", message=".*TorchScript archive.*")
            return torch.load(path, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as error:
        unsupported = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if unsupported is not None:
            how = f" If you trust where the file comes from, {trust_hint} to unpickle it fully (that can run code)."
            raise ValueError(
                f"{path} holds Python objects besides tensors and plain containers ({unsupported.group(1)}), which "
                f"safe loading (torch.load(weights_only=True)) refuses.{how if trust_hint else ''} {expected}"
            ) from None
        reason: Exception = error  # damaged or not a checkpoint: safe loading fails on the bytes themselves
    except Exception as error:  # RuntimeError (bad zip), EOFError, KeyError, ... for damaged files
        if "TorchScript archive" in str(error):
            raise ValueError(
                f"{path} is a TorchScript model (e.g. written by scripts/export.py), not a checkpoint: run it with "
                f"torch.jit.load. {expected}"
            ) from None
        reason = error
    raise ValueError(
        f"Could not read {path} as a PyTorch checkpoint ({_first_line(reason)}); it may be truncated or not a "
        f"checkpoint at all. {expected}"
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()[0].split(". ")[0] if str(error).strip() else ""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # torch colours parts of its messages
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
