"""The TensorBoard command and a link pinning the validation charts on top (``epoch``, ``lr-*`` sort first)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from urllib.parse import urlencode

DEFAULT_PORT = 6006
MAX_PINNED = 4  # more than fit on a first screen help nobody


def pinned_url(tags: Iterable[str], port: int = DEFAULT_PORT) -> str:
    """The Time Series link pinning the first :data:`MAX_PINNED` distinct ``val/`` scalars of ``tags``."""
    pins = [{"plugin": "scalars", "tag": tag} for tag in dict.fromkeys(tags) if tag.startswith("val/")][:MAX_PINNED]
    query = f"?{urlencode({'pinnedCards': json.dumps(pins, separators=(',', ':'))})}" if pins else ""
    return f"http://localhost:{port}/{query}#timeseries"


def view_lines(logdir: str | os.PathLike, tags: Iterable[str]) -> list[str]:
    """What to type and open to see ``logdir``'s runs, validation charts first."""
    return [f"tensorboard --logdir {logdir}", f"then open {pinned_url(tags)}  (validation charts pinned on top)"]
